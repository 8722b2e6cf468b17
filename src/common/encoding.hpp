// Byte encodings and the MAC used across the tree, one of each: base64
// (RFC 4648, both alphabets), lowercase hex, percent-decoding and
// HMAC-SHA256. Pure functions over bytes: no exceptions other than
// std::bad_alloc (and std::runtime_error from HmacSha256 when OpenSSL
// cannot set it up).
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollcall {

enum class Base64 : std::uint8_t {
  standard,  // '+', '/' (Engine.IO polling, cookie signatures)
  url,       // '-', '_' (JWT, session ids)
};

// Appends the encoding of `bytes`; `pad` adds the trailing '='.
void base64_encode_append(std::string& out, std::string_view bytes,
                          Base64 alphabet = Base64::standard, bool pad = true);
std::string base64_encode(std::string_view bytes, Base64 alphabet = Base64::standard,
                          bool pad = true);
// URL-safe, no padding (JWT, RFC 7515 section 2).
inline std::string base64url_encode(std::string_view bytes) {
  return base64_encode(bytes, Base64::url, false);
}

// Strict decoders: only the canonical encoding of some bytes is accepted
// (characters of the alphabet only, unused trailing bits zero), so every
// byte string has exactly one accepted form.
// Standard alphabet with padding: length a multiple of 4, '=' only at the end.
std::optional<std::string> base64_decode(std::string_view text);
// URL-safe alphabet without padding: no '=', length not 4n+1.
std::optional<std::string> base64url_decode(std::string_view text);
// 0-63 for a character of the URL-safe alphabet, -1 otherwise.
int base64url_value(char c) noexcept;

// Lowercase hex of `bytes`.
std::string hex_encode(std::string_view bytes);
// 0-15 for a hex digit (either case), -1 otherwise.
int hex_value(char c) noexcept;

// "%XX" escapes decoded (no '+' to space); nullopt when a '%' is not
// followed by two hex digits. The result may hold any bytes.
std::optional<std::string> percent_decode(std::string_view s);

// HMAC-SHA256 under one key, keyed once: OpenSSL 3 looks algorithms up by
// name (under a lock) on every one-shot call, a keyed context is only reset
// between messages. Not thread-safe: one per thread.
class HmacSha256 {
 public:
  static constexpr std::size_t kSize = 32;
  explicit HmacSha256(std::string_view key);  // any length, may be empty
  const std::string& key() const noexcept { return key_; }
  // The 32-byte MAC of the concatenation of `parts`.
  std::string mac(std::initializer_list<std::string_view> parts);

 private:
  struct Free {
    void operator()(EVP_MAC_CTX* c) const noexcept;
  };
  std::string key_;
  std::unique_ptr<EVP_MAC_CTX, Free> ctx_;
};

// The 32-byte HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

// `n` bytes from OpenSSL's CSPRNG (fetched 4 KiB at a time per thread).
// Throws std::runtime_error when the generator fails: ids made from these
// are bearer credentials and never fall back to weak randomness.
void random_bytes(unsigned char* out, std::size_t n);
// 20 characters of URL-safe base64 from 15 random bytes (120 bits): socket
// ids, recovery ids, event ids.
std::string random_id();

}  // namespace rollcall
