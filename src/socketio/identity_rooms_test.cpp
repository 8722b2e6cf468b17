#include <rollcall/presence.hpp>

#include <gtest/gtest.h>

#include <set>

namespace rollcall {
namespace {

TEST(IdentityRooms, PlainIdsAreUnchanged) {
  EXPECT_EQ(user_room("alice"), "user:alice");
  EXPECT_EQ(org_room("acme"), "org:acme");
  EXPECT_EQ(org_role_room("acme", "admin"), "org:acme:role:admin");
}

TEST(IdentityRooms, AnOrgIdCannotNameAnotherOrgsRoleRoom) {
  // The attack from the hardening issue: an org id that spells acme's admin room.
  EXPECT_NE(org_room("acme:role:admin"), org_role_room("acme", "admin"));
  EXPECT_EQ(org_room("acme:role:admin"), "org:acme%3Arole%3Aadmin");
}

TEST(IdentityRooms, EscapesArePartOfTheNameSoTheyCannotBeForgedEither) {
  // "%3A" written literally must not meet an escaped ':'.
  EXPECT_NE(user_room("a%3Ab"), user_room("a:b"));
  EXPECT_EQ(user_room("a%3Ab"), "user:a%253Ab");
  EXPECT_EQ(user_room("a:b"), "user:a%3Ab");
}

TEST(IdentityRooms, DistinctIdentitiesGetDistinctRooms) {
  // Every way to split these characters over (org, role) and single ids.
  const char* parts[] = {"", "a", ":", "a:", ":a", "a:role:b", "%", "%3A", "a%3Arole%3Ab", "role"};
  std::set<std::string> rooms;
  std::size_t made = 0;
  for (const char* a : parts) {
    rooms.insert(user_room(a));
    rooms.insert(org_room(a));
    made += 2;
    for (const char* b : parts) {
      rooms.insert(org_role_room(a, b));
      ++made;
    }
  }
  EXPECT_EQ(rooms.size(), made);
}

}  // namespace
}  // namespace rollcall
