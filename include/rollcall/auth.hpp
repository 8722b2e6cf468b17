// Identity at the handshake: a middleware that finds out who a socket
// belongs to (a JWT, or an express-session cookie looked up in Redis) and
// gives it that User (Socket::set_user), so that it joins its identity
// rooms and counts towards presence. rollcalld turns it on from its [auth]
// table (docs/configuration.md); an embedder turns it on with
//
//   rollcall::auth::IdentityOptions id;
//   id.jwt = rollcall::auth::JwtOptions{.secret = "..."};
//   io.use(rollcall::auth::identity_middleware(std::move(id)));
//
// docs/cpp-api.md, "Identity"; docs/presence.md for the claims read. (The
// `{}` on members keep GCC's -Wmissing-field-initializers quiet with
// designated initializers.)
#pragma once

#include <rollcall/server.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollcall::auth {

enum class JwtAlgorithm { hs256, rs256 };

// Tokens come from the CONNECT auth `token` or an `Authorization: Bearer`
// header; the algorithm is fixed here (the token's header never chooses
// it). Claims: `sub` (the user id, required), `name`, `orgs`
// ([{id, role}]).
struct JwtOptions {
  JwtAlgorithm algorithm = JwtAlgorithm::hs256;
  std::string secret{};          // HS256: the shared secret
  std::string public_key_pem{};  // RS256: an RSA public key (>= 2048 bits), PEM
  std::chrono::seconds leeway{30};  // clock skew allowed on exp / nbf
  std::string issuer{};    // checked against "iss" when not empty
  std::string audience{};  // checked against "aud" when not empty
};

// express-session (signed cookie, cookie-signature) with its sessions in
// Redis as connect-redis keeps them: GET <prefix><session id>, a JSON
// document whose `user_field` (a dotted path) holds the user id. The
// lookup runs on the socket's loop, one Redis connection per loop.
struct SessionOptions {
  std::vector<std::string> secrets{};  // express-session's secret(s), the current first
  std::string cookie = "connect.sid";
  std::string redis_url = "redis://127.0.0.1:6379/0";  // redis://[[user]:password@]host[:port][/db]
  std::string prefix = "sess:";
  std::string user_field = "userId";
};

struct IdentityOptions {
  std::optional<JwtOptions> jwt{};          // tokens are accepted
  std::optional<SessionOptions> session{};  // session cookies are accepted
  // Connections without credentials are let in, anonymous (always so when
  // neither jwt nor session is set). Wrong credentials are refused anyway.
  bool allow_anonymous = false;
};

// Thrown by identity_middleware for options it cannot use: `option` names
// the part ("jwt" or "session.redis_url"), `reason` says why.
class OptionsError : public std::invalid_argument {
 public:
  OptionsError(std::string option, std::string reason)
      : std::invalid_argument(option + ": " + reason), option(std::move(option)),
        reason(std::move(reason)) {}
  std::string option;
  std::string reason;
};

// The middleware: a JWT when one is sent (else the session cookie when one
// is sent) decides; a refusal is a connect_error whose data.code is
// "invalid_token", "invalid_session", "session_store_unavailable" or (no
// credentials and not allow_anonymous) "auth_required". Throws
// OptionsError. The middleware (and its copies) must not outlive the
// Server it is used with: its Redis connections run on the server's loops.
Middleware identity_middleware(IdentityOptions options);

}  // namespace rollcall::auth
