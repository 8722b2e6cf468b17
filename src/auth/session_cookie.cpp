#include "auth/session_cookie.hpp"

#include "common/encoding.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/crypto.h>

namespace rollcall::auth {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> find_cookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (!value.empty() && value.front() == '"') {  // slice(1, -1), as the npm package does
      value = value.size() >= 2 ? value.substr(1, value.size() - 2) : std::string_view{};
    }
    // decodeURIComponent, except that an invalid escape keeps the whole
    // value raw (the `cookie` package's tryDecode). UTF-8 is not checked.
    return percent_decode(value).value_or(std::string(value));
  }
  return std::nullopt;
}

std::string sign_cookie(std::string_view id, std::string_view secret) {
  std::string out(id);
  out += '.';
  out += base64_encode(hmac_sha256(secret, id), Base64::standard, /*pad=*/false);
  return out;
}

std::optional<std::string> unsign_cookie(std::string_view value,
                                         const std::vector<std::string>& secrets) {
  if (value.substr(0, 2) != "s:") return std::nullopt;
  value.remove_prefix(2);
  const auto dot = value.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  const std::string_view id = value.substr(0, dot);
  for (const auto& secret : secrets) {
    const std::string expected = sign_cookie(id, secret);
    if (expected.size() == value.size() &&
        CRYPTO_memcmp(expected.data(), value.data(), value.size()) == 0) {
      return std::string(id);
    }
  }
  return std::nullopt;
}

std::optional<std::string> session_user(std::string_view session_json, std::string_view path) {
  namespace json = boost::json;
  unsigned char arena[4096];
  json::monotonic_resource mr(arena, sizeof arena);
  json::error_code ec;
  const json::value doc = json::parse(session_json, ec, &mr);
  if (ec || path.empty()) return std::nullopt;

  const json::value* v = &doc;
  while (true) {
    const auto dot = path.find('.');
    const std::string_view key = path.substr(0, dot);
    const auto* obj = v->if_object();
    if (key.empty() || obj == nullptr) return std::nullopt;
    v = obj->if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  if (const auto* s = v->if_string()) {
    if (s->empty()) return std::nullopt;
    return std::string(*s);
  }
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  return std::nullopt;
}

}  // namespace rollcall::auth
