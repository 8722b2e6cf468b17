// libFuzzer target: the notification request parser (the body of POST
// /v1/notifications, a NOTIFY payload, an outbox row) on arbitrary bytes.
// It must never crash; what it accepts must name somebody, have a type,
// give detail_roles only with a detail, and parse again to the same
// audience, type and roles once written back as JSON.
#include <rollcall/notifications.hpp>

#include <boost/json/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace json = boost::json;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

json::value to_json(const rollcall::NotificationRequest& r) {
  json::object audience;
  json::array users, orgs, roles;
  for (const auto& u : r.audience.users) users.push_back(json::string(u));
  for (const auto& o : r.audience.orgs) orgs.push_back(json::string(o));
  for (const auto& e : r.audience.roles) roles.push_back(json::object{{"org", e.id}, {"role", e.role}});
  audience["users"] = std::move(users);
  audience["orgs"] = std::move(orgs);
  audience["roles"] = std::move(roles);
  json::object o;
  o["audience"] = std::move(audience);
  o["type"] = r.type;
  o["data"] = r.data;
  if (r.detail) o["detail"] = *r.detail;
  if (r.detail_roles) {
    json::array a;
    for (const auto& role : *r.detail_roles) a.push_back(json::string(role));
    o["detail_roles"] = std::move(a);
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto r = rollcall::parse_notification_request(text, error);
  if (!r) {
    check(!error.empty());
    return 0;
  }
  check(!r->audience.users.empty() || !r->audience.orgs.empty() || !r->audience.roles.empty());
  check(!r->type.empty());
  check(!r->detail_roles || r->detail);
  std::string again_error;
  auto again = rollcall::parse_notification_request(json::serialize(to_json(*r)), again_error);
  check(again.has_value());
  check(again->audience.users == r->audience.users && again->audience.orgs == r->audience.orgs);
  check(again->audience.roles.size() == r->audience.roles.size());
  // data and detail are opaque: carried, not checked (and doubles need not
  // survive a text round trip bit for bit).
  check(again->type == r->type && again->detail.has_value() == r->detail.has_value());
  check(again->detail_roles == r->detail_roles);
  return 0;
}
