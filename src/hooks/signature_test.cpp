#include "hooks/signature.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rollcall::hooks {
namespace {

// Expected values were computed independently (openssl dgst -hmac and
// Python's hmac module) over timestamp + "." + body.
TEST(HooksSignature, KnownVectors) {
  EXPECT_EQ(sign("whsec_test", "1700000000", R"({"events":[]})"),
            "sha256=4f6f9b7a41398ad124e52a1320534f978e522923f3f2b2724e31d7a9dbf78a7f");
  EXPECT_EQ(sign("", "", ""),
            "sha256=0d0ab78babcce47b6860946aad720dcc13630f70074364b65665c4caefb81ecf");
  EXPECT_EQ(
      sign("it's a secret", "1764468258",
           R"({"events":[{"id":"e1","type":"user.online","user":"alice","seq":1,)"
           R"("at":"2026-11-30T02:04:18.123Z","connections":1}]})"),
      "sha256=b482409560fabd6a83ea9d845805fbcb05e614aaea677086c8825621ab44ec28");
}

TEST(HooksSignature, FormatIsLowercaseHex) {
  const auto s = sign("k", "1", "x");
  ASSERT_EQ(s.size(), 7u + 64u);
  EXPECT_EQ(s.substr(0, 7), "sha256=");
  for (char c : s.substr(7)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
}

TEST(HooksSignature, EveryInputMatters) {
  const auto base = sign("secret", "1700000000", "body");
  EXPECT_NE(base, sign("secret2", "1700000000", "body"));
  EXPECT_NE(base, sign("secret", "1700000001", "body"));
  EXPECT_NE(base, sign("secret", "1700000000", "body "));
  // The separator keeps timestamp and body apart.
  EXPECT_NE(sign("secret", "17", "00.body"), sign("secret", "1700", "body"));
  // Binary secrets and bodies are fine.
  EXPECT_EQ(sign(std::string("a\0b", 3), "1", std::string("\0", 1)),
            sign(std::string("a\0b", 3), "1", std::string("\0", 1)));
}

}  // namespace
}  // namespace rollcall::hooks
