#include "auth/session_cookie.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rollcall::auth {
namespace {

// Vectors computed with Node's crypto, exactly as cookie-signature does:
//   val + "." + createHmac("sha256", secret).update(val).digest("base64").replace(/=+$/, "")
constexpr const char* kId = "Xb9vQm3kPz_7LtR2wYc-1dN8aFhJ0sUe";
constexpr const char* kSignedOne = "Xb9vQm3kPz_7LtR2wYc-1dN8aFhJ0sUe.38lhE6pFXIrJmCTvxsLEUJZySKZTI3VQQ0yg4pnTDRQ";
constexpr const char* kSignedTwo = "Xb9vQm3kPz_7LtR2wYc-1dN8aFhJ0sUe.czcJi2mgJrdkrmL/TVCtiJ+D3y6r8Aa5Ci/lbMRj3mI";
// "connect.sid=" + encodeURIComponent("s:" + kSignedTwo)
constexpr const char* kHeaderTwo =
    "connect.sid=s%3AXb9vQm3kPz_7LtR2wYc-1dN8aFhJ0sUe.czcJi2mgJrdkrmL%2FTVCtiJ%2BD3y6r8Aa5Ci%2FlbMRj3mI";

TEST(SessionCookie, SignMatchesCookieSignature) {
  EXPECT_EQ(sign_cookie("abc123", "keyboard cat"), "abc123.L3URH8qEUlRhbJErOXuJ/R5i21GJUY02kERb2c2p5w0");
  EXPECT_EQ(sign_cookie(kId, "s3cr3t-one"), kSignedOne);
  EXPECT_EQ(sign_cookie(kId, "s3cr3t-two"), kSignedTwo);
}

TEST(SessionCookie, UnsignWithRotatedSecrets) {
  const std::vector<std::string> secrets{"s3cr3t-one", "s3cr3t-two"};
  EXPECT_EQ(unsign_cookie(std::string("s:") + kSignedOne, secrets), kId);
  EXPECT_EQ(unsign_cookie(std::string("s:") + kSignedTwo, secrets), kId);
  EXPECT_EQ(unsign_cookie(std::string("s:") + kSignedTwo, {"s3cr3t-one"}), std::nullopt);
  EXPECT_EQ(unsign_cookie(std::string("s:") + kSignedTwo, {}), std::nullopt);
  EXPECT_EQ(unsign_cookie(kSignedTwo, secrets), std::nullopt);  // no "s:": unsigned cookie
  EXPECT_EQ(unsign_cookie("s:abc123.L3URH8qEUlRhbJErOXuJ/R5i21GJUY02kERb2c2p5w0", {"keyboard cat"}),
            "abc123");
  // Tampering: id, signature, padding, truncation, no dot, empty id.
  EXPECT_EQ(unsign_cookie("s:abc124.L3URH8qEUlRhbJErOXuJ/R5i21GJUY02kERb2c2p5w0", {"keyboard cat"}),
            std::nullopt);
  EXPECT_EQ(unsign_cookie("s:abc123.L3URH8qEUlRhbJErOXuJ/R5i21GJUY02kERb2c2p5w1", {"keyboard cat"}),
            std::nullopt);
  EXPECT_EQ(unsign_cookie("s:abc123.L3URH8qEUlRhbJErOXuJ/R5i21GJUY02kERb2c2p5w0=", {"keyboard cat"}),
            std::nullopt);
  EXPECT_EQ(unsign_cookie("s:abc123.L3URH8qEUlRhbJErOXuJ/R5i21GJUY02kERb2c2p5w", {"keyboard cat"}),
            std::nullopt);
  EXPECT_EQ(unsign_cookie("s:abc123", {"keyboard cat"}), std::nullopt);
  EXPECT_EQ(unsign_cookie("s:", {"keyboard cat"}), std::nullopt);
  EXPECT_EQ(unsign_cookie("", {"keyboard cat"}), std::nullopt);
  const std::string empty_id = "s:" + sign_cookie("", "keyboard cat");
  EXPECT_EQ(unsign_cookie(empty_id, {"keyboard cat"}), std::nullopt);
  // The id itself may contain dots: the signature follows the last one.
  EXPECT_EQ(unsign_cookie("s:" + sign_cookie("a.b.c", "k"), {"k"}), "a.b.c");
}

TEST(SessionCookie, FindCookieDecodesAndUnsigns) {
  const auto raw = find_cookie(std::string("theme=dark; ") + kHeaderTwo + "; other=1", "connect.sid");
  ASSERT_TRUE(raw);
  EXPECT_EQ(*raw, std::string("s:") + kSignedTwo);
  EXPECT_EQ(unsign_cookie(*raw, {"s3cr3t-two"}), kId);
}

TEST(SessionCookie, FindCookieParsing) {
  EXPECT_EQ(find_cookie("a=1; b=2", "b"), "2");
  EXPECT_EQ(find_cookie("a=1;b=2", "b"), "2");
  EXPECT_EQ(find_cookie("  a = 1 ;  b =  two words  ", "b"), "two words");
  EXPECT_EQ(find_cookie("a=1; a=2", "a"), "1");  // first one wins
  EXPECT_EQ(find_cookie("a=1", "b"), std::nullopt);
  EXPECT_EQ(find_cookie("", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("flag; a=1", "a"), "1");  // a pair without '=' is skipped
  EXPECT_EQ(find_cookie("flag; a=1", "flag"), std::nullopt);
  EXPECT_EQ(find_cookie("a=", "a"), "");
  EXPECT_EQ(find_cookie("a=x=y", "a"), "x=y");
  EXPECT_EQ(find_cookie("ab=1; b=2", "b"), "2");  // no prefix match
  EXPECT_EQ(find_cookie("a=\"quoted%20v\"", "a"), "quoted v");
  EXPECT_EQ(find_cookie("a=%E2%9C%93", "a"), "\xE2\x9C\x93");
  EXPECT_EQ(find_cookie("a=100%", "a"), "100%");    // invalid escape: kept raw
  EXPECT_EQ(find_cookie("a=%zz%20", "a"), "%zz%20");
  EXPECT_EQ(find_cookie("a=%2", "a"), "%2");
  EXPECT_EQ(find_cookie("a=b+c", "a"), "b+c");  // '+' is not a space (decodeURIComponent)
}

TEST(SessionCookie, SessionUser) {
  const char* json =
      R"({"cookie":{"originalMaxAge":86400000,"httpOnly":true,"path":"/"},)"
      R"("userId":"u-17","passport":{"user":42},"big":18446744073709551615,)"
      R"("f":1.5,"empty":"","neg":-3,"nested":{"a":{"b":"deep"}}})";
  EXPECT_EQ(session_user(json, "userId"), "u-17");
  EXPECT_EQ(session_user(json, "passport.user"), "42");
  EXPECT_EQ(session_user(json, "big"), "18446744073709551615");
  EXPECT_EQ(session_user(json, "neg"), "-3");
  EXPECT_EQ(session_user(json, "nested.a.b"), "deep");
  EXPECT_EQ(session_user(json, "f"), std::nullopt);
  EXPECT_EQ(session_user(json, "empty"), std::nullopt);
  EXPECT_EQ(session_user(json, "cookie"), std::nullopt);
  EXPECT_EQ(session_user(json, "cookie.httpOnly"), std::nullopt);
  EXPECT_EQ(session_user(json, "missing"), std::nullopt);
  EXPECT_EQ(session_user(json, "userId.x"), std::nullopt);
  EXPECT_EQ(session_user(json, "passport..user"), std::nullopt);
  EXPECT_EQ(session_user(json, ""), std::nullopt);
  EXPECT_EQ(session_user(json, ".userId"), std::nullopt);
  EXPECT_EQ(session_user("not json", "userId"), std::nullopt);
  EXPECT_EQ(session_user(R"(["userId"])", "userId"), std::nullopt);
  EXPECT_EQ(session_user("", "userId"), std::nullopt);
}

}  // namespace
}  // namespace rollcall::auth
