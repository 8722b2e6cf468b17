// Application routes (Server::add_http_route, e.g. /healthz or rollcalld's
// /v1/ API): which route serves a request's path (request::route_matches,
// first match wins), the call of its handler with an HttpRequest, and the
// HttpResponse as an HTTP response: 404 when no route matches, 500 when the
// handler throws. No CORS of their own: a handler sets the headers it wants.
#pragma once

#include "server/http_request.hpp"

#include <rollcall/server.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rollcall {

using HttpRoutes = std::vector<std::pair<std::string, HttpHandler>>;

// The answer of the route that serves `req` (`query`: its parsed target,
// nullopt when the target is not origin-form). Without keep-alive and
// length: the connection adds them.
request::Response serve_route(const HttpRoutes& routes, const request::Request& req,
                              const std::optional<request::Query>& query);

}  // namespace rollcall
