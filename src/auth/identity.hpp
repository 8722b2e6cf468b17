// The authenticated user of a connection, as established by the handshake
// (JWT or express-session cookie).
#pragma once

#include <string>
#include <vector>

namespace rollcall::auth {

struct OrgRole {
  std::string id;
  std::string role;  // "" when the token gives none
};

struct Identity {
  std::string user;  // JWT "sub" / the session's user id; never empty once authenticated
  std::string name;  // display name, may be empty
  std::vector<OrgRole> orgs;
};

}  // namespace rollcall::auth
