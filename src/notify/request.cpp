// The JSON of a notification request, checked field by field (fuzzed by
// fuzz/notification_fuzz.cpp: it needs nothing but Boost.JSON and the codec).
#include <rollcall/notifications.hpp>

#include <boost/json/parse.hpp>

namespace rollcall {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxTypeBytes = 200;

bool non_empty_string(const json::value& v) { return v.is_string() && !v.as_string().empty(); }

// Reads an array of non-empty strings; false with `error` set if it is not one.
bool read_strings(const json::value& v, const std::string& field, std::vector<std::string>& out,
                  std::string& error) {
  if (!v.is_array()) {
    error = field + ": must be an array of non-empty strings";
    return false;
  }
  const auto& a = v.as_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!non_empty_string(a[i]) || !valid_utf8(a[i].as_string())) {
      error = field + "[" + std::to_string(i) + "]: must be a non-empty string";
      return false;
    }
    out.emplace_back(a[i].as_string());
  }
  return true;
}

std::string quoted_key(std::string_view key) {
  std::string k(key);
  return valid_utf8(k) ? "'" + k + "'" : "(not UTF-8)";
}

}  // namespace

std::optional<NotificationRequest> parse_notification_request(std::string_view text, std::string& error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    error = "the body is not JSON: " + ec.message();
    return std::nullopt;
  }
  return parse_notification_request(v, error);
}

std::optional<NotificationRequest> parse_notification_request(const json::value& body, std::string& error) {
  if (!body.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  const auto& o = body.as_object();
  for (const auto& [key, value] : o) {
    if (key != "audience" && key != "type" && key != "data" && key != "detail" && key != "detail_roles") {
      error = "unknown field " + quoted_key(key);
      return std::nullopt;
    }
  }
  NotificationRequest r;
  const auto* audience = o.if_contains("audience");
  if (audience == nullptr || !audience->is_object()) {
    error = "audience: required, an object with users, orgs and/or roles";
    return std::nullopt;
  }
  for (const auto& [key, value] : audience->as_object()) {
    if (key == "users") {
      if (!read_strings(value, "audience.users", r.audience.users, error)) return std::nullopt;
    } else if (key == "orgs") {
      if (!read_strings(value, "audience.orgs", r.audience.orgs, error)) return std::nullopt;
    } else if (key == "roles") {
      if (!value.is_array()) {
        error = "audience.roles: must be an array of {\"org\", \"role\"}";
        return std::nullopt;
      }
      const auto& a = value.as_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        std::string at = "audience.roles[" + std::to_string(i) + "]";
        if (!a[i].is_object()) {
          error = at + ": must be an object {\"org\", \"role\"}";
          return std::nullopt;
        }
        const auto& e = a[i].as_object();
        for (const auto& [k, _] : e) {
          if (k != "org" && k != "role") {
            error = at + ": unknown field " + quoted_key(k);
            return std::nullopt;
          }
        }
        const auto* org = e.if_contains("org");
        const auto* role = e.if_contains("role");
        if (org == nullptr || !non_empty_string(*org) || !valid_utf8(org->as_string())) {
          error = at + ".org: must be a non-empty string";
          return std::nullopt;
        }
        if (role == nullptr || !non_empty_string(*role) || !valid_utf8(role->as_string())) {
          error = at + ".role: must be a non-empty string";
          return std::nullopt;
        }
        r.audience.roles.push_back(OrgRole{std::string(org->as_string()), std::string(role->as_string())});
      }
    } else {
      error = "audience: unknown field " + quoted_key(key);
      return std::nullopt;
    }
  }
  if (r.audience.users.empty() && r.audience.orgs.empty() && r.audience.roles.empty()) {
    error = "audience: names nobody (give users, orgs or roles)";
    return std::nullopt;
  }
  const auto* type = o.if_contains("type");
  if (type == nullptr || !non_empty_string(*type) || !valid_utf8(type->as_string())) {
    error = "type: required, a non-empty string";
    return std::nullopt;
  }
  if (type->as_string().size() > kMaxTypeBytes) {
    error = "type: longer than " + std::to_string(kMaxTypeBytes) + " bytes";
    return std::nullopt;
  }
  r.type = type->as_string();
  const auto* data = o.if_contains("data");
  if (data == nullptr) {
    error = "data: required (any JSON value)";
    return std::nullopt;
  }
  r.data = *data;
  if (const auto* detail = o.if_contains("detail")) r.detail = *detail;
  if (const auto* roles = o.if_contains("detail_roles")) {
    std::vector<std::string> list;
    if (!read_strings(*roles, "detail_roles", list, error)) return std::nullopt;
    if (!r.detail) {
      error = "detail_roles: given without a detail";
      return std::nullopt;
    }
    r.detail_roles = std::move(list);
  }
  return r;
}

}  // namespace rollcall
