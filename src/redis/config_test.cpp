#include "redis/config.hpp"

#include <gtest/gtest.h>

namespace rollcall::redis {
namespace {

std::optional<RedisConfig> parse(std::string_view url) {
  std::string error;
  auto cfg = RedisConfig::from_url(url, error);
  EXPECT_EQ(cfg.has_value(), error.empty()) << url << ": " << error;
  return cfg;
}

TEST(RedisConfigUrl, Valid) {
  auto c = parse("redis://localhost");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, 6379);
  EXPECT_EQ(c->db, 0);
  EXPECT_TRUE(c->password.empty());

  c = parse("redis://:s%40cret@redis.internal:6380/3");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "redis.internal");
  EXPECT_EQ(c->port, 6380);
  EXPECT_EQ(c->password, "s@cret");
  EXPECT_TRUE(c->username.empty());
  EXPECT_EQ(c->db, 3);

  c = parse("redis://app:pw:with:colons@10.0.0.5/");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "app");
  EXPECT_EQ(c->password, "pw:with:colons");
  EXPECT_EQ(c->host, "10.0.0.5");
  EXPECT_EQ(c->db, 0);

  c = parse("redis://[::1]:7000/15");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->db, 15);

  c = parse("redis://");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "127.0.0.1");
  c = parse("redis://:6390");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 6390);
}

TEST(RedisConfigUrl, Invalid) {
  for (const char* url :
       {"", "localhost:6379", "http://localhost", "rediss://localhost", "redis://h:0", "redis://h:65536",
        "redis://h:x", "redis://h:", "redis://h/-1", "redis://h/db", "redis://pass@h", "redis://:%zz@h",
        "redis://[::1", "redis://[::1]x", "redis://h?db=1", "redis://h#f"}) {
    std::string error;
    EXPECT_FALSE(RedisConfig::from_url(url, error)) << url;
    EXPECT_FALSE(error.empty()) << url;
  }
}

}  // namespace
}  // namespace rollcall::redis
