#include "app/http_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>

namespace rollcall::app {

namespace json = boost::json;

boost::json::object presence_json(const UserPresence& p, bool details) {
  json::object o;
  o["user"] = p.user;
  if (!p.name.empty()) o["name"] = p.name;
  o["online"] = p.online;
  o["connections"] = p.connections.size();
  o["since"] = format_rfc3339_ms(p.since_ms);
  o["seq"] = p.seq;
  json::array orgs;
  for (const auto& org : p.orgs) orgs.push_back(json::object{{"id", org.id}, {"role", org.role}});
  o["orgs"] = std::move(orgs);
  if (details) {
    json::array conns;
    for (const auto& c : p.connections) {
      json::object d;
      d["socket"] = c.socket_id;
      d["nsp"] = c.nsp;
      d["transport"] = c.transport;
      d["userAgent"] = c.user_agent;
      d["address"] = c.address;
      d["since"] = format_rfc3339_ms(c.since_ms);
      if (!c.node.empty()) d["node"] = c.node;  // in a cluster
      conns.push_back(std::move(d));
    }
    o["details"] = std::move(conns);
  }
  return o;
}

boost::json::object transition_json(const PresenceEvent& e) {
  return json::object{{"id", e.id},     {"type", e.type},
                      {"user", e.user}, {"seq", e.seq},
                      {"at", format_rfc3339_ms(e.at_ms)}, {"connections", e.connections}};
}

boost::json::object dead_letter_json(const DeadLetter& d) {
  json::object e;
  e["id"] = d.id;
  e["type"] = d.type;
  e["user"] = d.user;
  e["seq"] = d.seq;
  e["at"] = format_rfc3339_ms(d.at_ms);
  e["connections"] = d.connections;
  e["attempts"] = d.attempts;
  if (d.dead_ms != 0) {
    e["deadAt"] = format_rfc3339_ms(d.dead_ms);
    e["reason"] = d.reason;
  }
  return e;
}

HttpResponse json_response(int status, const json::value& v) {
  return HttpResponse{.status = status, .body = json::serialize(v)};  // application/json
}

HttpResponse error_response(int status, std::string message) {
  json::object o;
  o["error"] = std::move(message);
  return json_response(status, o);
}

HttpResponse method_not_allowed(const char* allow) {
  auto res = error_response(405, std::string("only ") + allow + " is supported");
  res.headers.emplace_back("Allow", allow);
  return res;
}

std::optional<HttpResponse> refuse_bearer(const HttpRequest& req, const std::string& key, const char* what) {
  auto h = req.headers.find("authorization");
  std::string_view given = h == req.headers.end() ? std::string_view{} : std::string_view(h->second);
  std::string expected = "Bearer " + key;
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return error_response(401, std::string("missing or invalid key (Authorization: Bearer <") + what + ">)");
  }
  return std::nullopt;
}

}  // namespace rollcall::app
