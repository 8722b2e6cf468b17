#include "server/http_request.hpp"

#include <boost/url/parse.hpp>

#include <cctype>

namespace rollcall::request {

namespace http = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    auto part = value.substr(0, comma);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (iequals(part, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<Query> parse_target(std::string_view target) {
  auto r = boost::urls::parse_origin_form(target);
  if (!r) return std::nullopt;
  Query q;
  q.path = std::string(r->path());
  for (auto param : r->params()) {
    std::string key = param.key;
    std::string value = param.has_value ? std::string(param.value) : std::string();
    if (key == "EIO") q.eio = value;
    else if (key == "transport") q.transport = value;
    else if (key == "sid") q.sid = value;
    q.all.emplace(std::move(key), std::move(value));
  }
  return q;
}

bool is_websocket_upgrade(const Request& req) {
  auto up = req.find(http::field::upgrade);
  auto conn = req.find(http::field::connection);
  return req.method() == http::verb::get && up != req.end() && conn != req.end() &&
         has_token(up->value(), "websocket") && has_token(conn->value(), "upgrade");
}

std::optional<std::string_view> websocket_key(const Request& req) {
  auto k = req.find(http::field::sec_websocket_key);
  auto v = req.find(http::field::sec_websocket_version);
  if (k == req.end() || v == req.end() || v->value() != "13") return std::nullopt;
  return std::string_view(k->value().data(), k->value().size());
}

}  // namespace rollcall::request
