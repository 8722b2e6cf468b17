// Application routes: the handler a path selects, run on an HttpRequest, and
// its HttpResponse as an HTTP response (routes.hpp).
#include "server/routes.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <exception>

namespace rollcall {

namespace http = boost::beast::http;

namespace {

// What every copy of one HttpRespond shares: the answer goes out once; if
// the last copy goes unanswered, a 500 does.
struct Pending {
  std::function<void(std::function<void()>)> post;
  std::function<void(HttpResponse)> done;
  std::string what;  // "GET /v1/x", for the log
  std::atomic<bool> answered{false};

  void answer(HttpResponse r) {
    if (answered.exchange(true)) return;
    post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }
  ~Pending() {
    if (answered) return;
    spdlog::error("http {}: the handler never answered", what);
    answer(HttpResponse{.status = 500, .body = R"({"error":"internal error"})"});
  }
};

}  // namespace

std::optional<RouteCall> find_route(const HttpRoutes& routes, const request::Request& req,
                                    const std::optional<request::Query>& query) {
  if (!query) return std::nullopt;
  for (const auto& [route, handler] : routes) {
    if (!request::route_matches(route, query->path)) continue;
    RouteCall call;
    call.handler = &handler;
    HttpRequest& r = call.request;
    r.method = std::string(req.method_string());
    r.path = query->path;
    r.query = query->all;
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = req.body();
    return call;
  }
  return std::nullopt;
}

void call_route(const RouteCall& call, std::function<void(std::function<void()>)> post,
                std::function<void(HttpResponse)> done) {
  auto pending = std::make_shared<Pending>();
  pending->post = std::move(post);
  pending->done = std::move(done);
  pending->what = call.request.method + " " + call.request.path;
  try {
    (*call.handler)(call.request, [pending](HttpResponse r) { pending->answer(std::move(r)); });
  } catch (const std::exception& e) {
    spdlog::error("http {}: handler threw: {}", pending->what, e.what());
    pending->answer(HttpResponse{.status = 500, .body = R"({"error":"internal error"})"});
  }
}

request::Response to_response(HttpResponse out, unsigned version) {
  request::Response res{static_cast<http::status>(out.status), version};
  res.set(http::field::content_type, out.content_type);
  res.body() = std::move(out.body);
  for (const auto& [name, value] : out.headers) res.set(name, value);
  return res;
}

request::Response not_found_response(unsigned version) {
  request::Response res{http::status::not_found, version};
  res.set(http::field::content_type, "application/json");
  res.body() = R"({"error":"not found"})";
  return res;
}

}  // namespace rollcall
