// JWT (RFC 7519) verification for the Socket.IO handshake: compact JWS
// signed with HS256 or RS256. The algorithm is fixed by the configuration;
// the token's header never chooses it ("none" is always rejected).
//
// Nothing here throws on bad input: verify() returns a JwtError code. A
// JwtVerifier is immutable after create(), so one instance may be shared by
// all loops (verify() is const and thread-safe).
#pragma once

#include "auth/identity.hpp"

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace rollcall::auth {

enum class JwtAlg { hs256, rs256 };

struct JwtConfig {
  JwtAlg alg = JwtAlg::hs256;
  std::string secret;          // HS256: the shared secret (non-empty)
  std::string public_key_pem;  // RS256: "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo), RSA >= 2048 bits
  std::chrono::seconds leeway{30};  // clock skew allowed on exp / nbf
  std::string issuer;    // checked against "iss" when non-empty
  std::string audience;  // checked against "aud" (a string or an array of strings) when non-empty
};

enum class JwtError {
  malformed = 1,  // not three base64url parts, bad base64url, payload not a JSON object, too long
  bad_header,     // header not a JSON object, "alg" missing or not a string, "crit" present
  alg_mismatch,   // header "alg" is not the configured algorithm (this includes "none")
  bad_signature,
  expired,        // now >= exp + leeway
  not_yet_valid,  // now < nbf - leeway
  bad_issuer,
  bad_audience,
  missing_sub,    // "sub" absent or empty
  bad_claims,     // a known claim has the wrong type (e.g. exp not a number, orgs not an array of {id, role})
};

const std::error_category& jwt_category() noexcept;
std::error_code make_error_code(JwtError e) noexcept;

// Longer tokens are rejected as malformed before any decoding.
inline constexpr std::size_t kMaxJwtSize = 16 * 1024;

class JwtVerifier {
 public:
  // Returns nullptr and sets `error` (a sentence for the operator's log) when
  // the configuration is unusable: empty HS256 secret, bad PEM, non-RSA or
  // short RSA key.
  static std::unique_ptr<JwtVerifier> create(const JwtConfig& config, std::string& error);

  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Verifies `token` at time `now_seconds` (Unix time). On success fills `out`
  // (sub -> user, name, orgs) and returns an empty error_code; on failure
  // leaves `out` untouched.
  std::error_code verify(std::string_view token, Identity& out, std::int64_t now_seconds) const;

 private:
  struct Key;
  explicit JwtVerifier(const JwtConfig& config);

  JwtConfig config_;
  std::unique_ptr<Key> key_;  // RS256 only
};

// Signs `claims` as an HS256 token with header {"alg":"HS256","typ":"JWT"}.
// For tests, benchmarks and tooling.
std::string make_hs256_token(const boost::json::object& claims, std::string_view secret);

}  // namespace rollcall::auth

template <>
struct std::is_error_code_enum<rollcall::auth::JwtError> : std::true_type {};
