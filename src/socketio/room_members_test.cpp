#include "socketio/room_members.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace {

using Members = rollcall::detail::BasicRoomMembers<int>;

std::set<int*> as_set(const Members& m) { return std::set<int*>(m.begin(), m.end()); }

TEST(RoomMembers, InsertAndEraseAreIdempotentInSmallRooms) {
  int a = 0, b = 0, c = 0;
  Members m;
  EXPECT_TRUE(m.insert(&a));
  EXPECT_FALSE(m.insert(&a));
  EXPECT_TRUE(m.insert(&b));
  EXPECT_TRUE(m.insert(&c));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(m.erase(&b));
  EXPECT_FALSE(m.erase(&b));
  EXPECT_EQ(as_set(m), (std::set<int*>{&a, &c}));
  EXPECT_TRUE(m.erase(&a));
  EXPECT_TRUE(m.erase(&c));
  EXPECT_TRUE(m.empty());
}

// Grows past the index threshold and back, with random joins and leaves,
// and always holds exactly what a reference set holds.
TEST(RoomMembers, MatchesAReferenceSetAcrossTheIndexThreshold) {
  std::vector<int> pool(200);
  std::mt19937 rng(42);
  Members m;
  std::set<int*> ref;
  for (int step = 0; step < 20000; ++step) {
    int* p = &pool[rng() % pool.size()];
    // Drift the size up in the first half and down in the second.
    bool join = (rng() % 100) < (step < 10000 ? 70u : 30u);
    if (join) {
      EXPECT_EQ(m.insert(p), ref.insert(p).second);
    } else {
      EXPECT_EQ(m.erase(p), ref.erase(p) == 1);
    }
    ASSERT_EQ(m.size(), ref.size()) << step;
    if (step % 97 == 0) {
      ASSERT_EQ(as_set(m), ref) << step;
      for (int* q : ref) ASSERT_TRUE(m.contains(q));
    }
  }
  EXPECT_EQ(as_set(m), ref);
}

}  // namespace
