#include "server/http_request.hpp"

#include <boost/beast/http/error.hpp>
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

engineio::TransportRequest transport_request(const Request& req, const Query& query) {
  auto header = [&](http::field f) -> std::optional<std::string_view> {
    auto it = req.find(f);
    if (it == req.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  };
  engineio::TransportRequest t;
  switch (req.method()) {
    case http::verb::get: t.method = engineio::Method::get; break;
    case http::verb::post: t.method = engineio::Method::post; break;
    case http::verb::options: t.method = engineio::Method::options; break;
    default: t.method = engineio::Method::other; break;
  }
  t.eio = query.eio;
  t.transport = query.transport;
  t.sid = query.sid;
  t.websocket_upgrade = is_websocket_upgrade(req);
  t.websocket_key = websocket_key(req);
  t.origin = header(http::field::origin).value_or(std::string_view());
  t.request_headers = header(http::field::access_control_request_headers);
  t.content_type = header(http::field::content_type).value_or(std::string_view());
  t.body = req.body();
  return t;
}

std::optional<Refusal> refusal(boost::system::error_code ec) {
  // Socket errors (end of file, reset, timeout, cancellation) leave nobody
  // to answer; only the parser's verdicts on what the client sent do.
  if (!ec || ec.category() != make_error_code(http::error::bad_method).category()) return std::nullopt;
  switch (static_cast<http::error>(ec.value())) {
    case http::error::end_of_stream:    // closed before a request
    case http::error::partial_message:  // closed mid-request
    case http::error::need_more:        // not an error: more bytes to come
    case http::error::need_buffer:
    case http::error::end_of_chunk:
    case http::error::stale_parser:
    case http::error::short_read:
      return std::nullopt;
    case http::error::header_limit:
      return Refusal{http::status::request_header_fields_too_large,
                     "request header fields too large (limit " + std::to_string(kHeaderLimit) + " bytes)"};
    case http::error::body_limit:
    case http::error::buffer_overflow:  // a body the string cannot hold
      return Refusal{http::status::payload_too_large, "payload too large"};
    default:  // bad_method, bad_content_length, bad_transfer_encoding, bad_chunk, ...
      return Refusal{http::status::bad_request, "bad request: " + ec.message()};
  }
}

std::optional<Refusal> check_framing(const Request& head, bool chunked) {
  if (chunked || head.find(http::field::transfer_encoding) == head.end()) return std::nullopt;
  return Refusal{http::status::bad_request,
                 "bad request: Transfer-Encoding without chunked as its last coding"};
}

bool route_matches(std::string_view route, std::string_view path) {
  if (!route.empty() && route.back() == '/') return path.starts_with(route);
  return path == route;
}

}  // namespace rollcall::request
