// Application routes: the handler a path selects, run on an HttpRequest, and
// its HttpResponse as an HTTP response (routes.hpp).
#include "server/routes.hpp"

#include <spdlog/spdlog.h>

#include <cctype>
#include <exception>

namespace rollcall {

namespace http = boost::beast::http;

request::Response serve_route(const HttpRoutes& routes, const request::Request& req,
                              const std::optional<request::Query>& query) {
  request::Response res{http::status::not_found, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = R"({"error":"not found"})";
  if (!query) return res;
  for (const auto& [route, handler] : routes) {
    if (!request::route_matches(route, query->path)) continue;
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.path = query->path;
    r.query = query->all;
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = req.body();
    try {
      HttpResponse out = handler(r);
      res.result(static_cast<unsigned>(out.status));
      res.set(http::field::content_type, out.content_type);
      res.body() = std::move(out.body);
      for (const auto& [name, value] : out.headers) res.set(name, value);
    } catch (const std::exception& e) {
      spdlog::error("http {} {}: handler threw: {}", r.method, r.path, e.what());
      res.result(http::status::internal_server_error);
      res.body() = R"({"error":"internal error"})";
    }
    return res;
  }
  return res;
}

}  // namespace rollcall
