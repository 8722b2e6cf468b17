// Room names built from identities (include/rollcall/presence.hpp).
#include <rollcall/presence.hpp>

namespace rollcall {

std::string escape_room_part(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (char c : part) {
    if (c == '%') {
      out += "%25";
    } else if (c == ':') {
      out += "%3A";
    } else {
      out += c;
    }
  }
  return out;
}

std::string user_room(std::string_view user) { return "user:" + escape_room_part(user); }

std::string org_room(std::string_view org) { return "org:" + escape_room_part(org); }

std::string org_role_room(std::string_view org, std::string_view role) {
  return org_room(org) + ":role:" + escape_room_part(role);
}

}  // namespace rollcall
