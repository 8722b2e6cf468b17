// express-session compatibility: read the session id that express-session
// (with cookie-signature) put in its cookie, and the user id that the Node
// app stored in the session JSON (as connect-redis keeps it under
// "sess:<id>"). Pure functions; nothing throws on bad input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall::auth {

// The value of cookie `name` in a Cookie request header, as the `cookie` npm
// package parses it: pairs separated by ';', key and value trimmed, the first
// pair with that key wins, a value starting with '"' loses its first and last
// character, and a value containing '%' is percent-decoded (kept raw when a
// '%' is not followed by two hex digits).
std::optional<std::string> find_cookie(std::string_view cookie_header, std::string_view name);

// cookie-signature's unsign for an express-session cookie value
// "s:<id>.<sig>", where sig = base64(HMAC-SHA256(secret, id)) without '='.
// Tries each secret in order (express-session's secret rotation) and compares
// in constant time. Returns the session id, or nullopt (unsigned, bad
// signature, empty id, no secrets).
std::optional<std::string> unsign_cookie(std::string_view value,
                                         const std::vector<std::string>& secrets);

// cookie-signature's sign: "<id>.<sig>" (without express-session's "s:").
std::string sign_cookie(std::string_view id, std::string_view secret);

// The user id stored in an express-session JSON document at a dotted path
// ("userId", "passport.user"). The value must be a non-empty string or an
// integer (returned in decimal); anything else gives nullopt.
std::optional<std::string> session_user(std::string_view session_json, std::string_view field_path);

}  // namespace rollcall::auth
