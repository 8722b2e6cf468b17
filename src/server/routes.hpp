// Application routes (Server::add_http_route, e.g. /healthz or rollcalld's
// /v1/ API): which route serves a request's path (request::route_matches,
// first match wins), the call of its handler with an HttpRequest, and the
// HttpResponse as an HTTP response: 404 when no route matches, 500 when the
// handler throws or drops its HttpRespond unanswered. No CORS of their
// own: a handler sets the headers it wants.
#pragma once

#include "server/http_request.hpp"

#include <rollcall/server.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rollcall {

using HttpRoutes = std::vector<std::pair<std::string, AsyncHttpHandler>>;

// The route that serves `req` (`query`: its parsed target, nullopt when
// the target is not origin-form) and the request as its handler sees it.
struct RouteCall {
  const AsyncHttpHandler* handler = nullptr;
  HttpRequest request;
};
std::optional<RouteCall> find_route(const HttpRoutes& routes, const request::Request& req,
                                    const std::optional<request::Query>& query);

// Runs the handler; `done` gets its answer exactly once, posted to `post`
// (the connection's loop): the handler's, or 500 when it throws or lets
// every copy of its HttpRespond go unanswered.
void call_route(const RouteCall& call, std::function<void(std::function<void()>)> post,
                std::function<void(HttpResponse)> done);

// As an HTTP response, without keep-alive and length (the connection adds them).
request::Response to_response(HttpResponse out, unsigned version);
request::Response not_found_response(unsigned version);

}  // namespace rollcall
