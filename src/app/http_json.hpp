// JSON answers shared by rollcalld's HTTP routes (daemon.cpp, operations.cpp).
#pragma once

#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace rollcall::app {

// A user as the presence API shows it; `details` adds every connection.
boost::json::object presence_json(const UserPresence& p, bool details);
// A transition or dead letter as the admin API shows it.
boost::json::object transition_json(const PresenceEvent& e);
boost::json::object dead_letter_json(const DeadLetter& d);

HttpResponse json_response(int status, const boost::json::value& v);
HttpResponse error_response(int status, std::string message);
// 405 with Allow.
HttpResponse method_not_allowed(const char* allow);
// The refusal of a request whose "Authorization: Bearer" is not `key`
// (compared in constant time), or nullopt. `what` names the key in the
// answer ("api.key").
std::optional<HttpResponse> refuse_bearer(const HttpRequest& req, const std::string& key, const char* what);

}  // namespace rollcall::app
