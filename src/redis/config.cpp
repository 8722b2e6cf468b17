#include "redis/config.hpp"
#include "common/encoding.hpp"

#include <charconv>

namespace rollcall::redis {

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::optional<RedisConfig> RedisConfig::from_url(std::string_view url, std::string& error) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, 9) == "rediss://") {
    error = "redis url: TLS (rediss://) is not supported";
    return std::nullopt;
  }
  if (url.substr(0, scheme.size()) != scheme) {
    error = "redis url: must start with redis://";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    error = "redis url: query strings and fragments are not supported";
    return std::nullopt;
  }
  RedisConfig cfg;

  // Path: "/<db>" (or "/" or nothing).
  const auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!path.empty() && (!parse_number(path, cfg.db) || cfg.db < 0)) {
      error = "redis url: the database must be a non-negative integer";
      return std::nullopt;
    }
  }

  // Userinfo: "[user]:password@" or "password@" is not accepted (ambiguous).
  const auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      error = "redis url: write the password as redis://:password@host";
      return std::nullopt;
    }
    auto user = percent_decode(userinfo.substr(0, colon));
    auto pass = percent_decode(userinfo.substr(colon + 1));
    if (!user || !pass) {
      error = "redis url: bad percent-encoding in the user or password";
      return std::nullopt;
    }
    cfg.username = std::move(*user);
    cfg.password = std::move(*pass);
  }

  // Host and port; "[v6]:port".
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      error = "redis url: unterminated IPv6 address";
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "redis url: unexpected characters after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
      if (port.empty()) port = "x";  // "[::1]:" is invalid
    }
  } else if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) port = "x";
  }
  if (!host.empty()) cfg.host = std::string(host);
  if (!port.empty() && (!parse_number(port, cfg.port) || cfg.port == 0)) {
    error = "redis url: the port must be a number from 1 to 65535";
    return std::nullopt;
  }
  return cfg;
}

}  // namespace rollcall::redis
