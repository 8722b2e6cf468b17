// Encoding and MAC helpers shared by the JWT and session-cookie code: base64
// (RFC 4648) and HMAC-SHA256. Pure functions, no exceptions other than
// std::bad_alloc.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rollcall::auth {

// URL-safe alphabet ('-', '_'), no padding (JWT, RFC 7515 section 2).
std::string base64url_encode(std::string_view bytes);

// Strict inverse of base64url_encode: rejects padding, characters outside the
// URL-safe alphabet, a length of 4n+1 and non-zero unused trailing bits, so
// every byte string has exactly one accepted encoding.
std::optional<std::string> base64url_decode(std::string_view text);

// Standard alphabet ('+', '/'); with `pad` false the trailing '=' are left out
// (what cookie-signature sends).
std::string base64_encode(std::string_view bytes, bool pad = true);

// The 32-byte HMAC-SHA256 of `data` under `key` (any length, may be empty).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace rollcall::auth
