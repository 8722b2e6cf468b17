#include "common/encoding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace rollcall {
namespace {

using namespace std::string_literals;

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> v[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, enc] : v) {
    EXPECT_EQ(base64_encode(plain), enc);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, plain);
  }
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= bytes.size(); len += 37) {
    const auto sub = bytes.substr(0, len);
    auto dec = base64_decode(base64_encode(sub));
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, sub);
  }
  const std::string enc = base64_encode("\xfb\xff"s);
  EXPECT_EQ(enc, "+/8=");
}

TEST(Base64, EncodeAppendKeepsPrefix) {
  std::string out = "b";
  base64_encode_append(out, "foo");
  EXPECT_EQ(out, "bZm9v");
}

TEST(Base64, RejectsBadCharacters) {
  EXPECT_FALSE(base64_decode("Zm9v!A==").has_value());
  EXPECT_FALSE(base64_decode("Zm 9").has_value());
  EXPECT_FALSE(base64_decode("Zm-_").has_value());  // URL-safe alphabet is not accepted
  EXPECT_FALSE(base64_decode("Zm9\n").has_value());
}

TEST(Base64, RejectsBadLength) {
  EXPECT_FALSE(base64_decode("Z").has_value());
  EXPECT_FALSE(base64_decode("Zm9").has_value());
  EXPECT_FALSE(base64_decode("Zm9vY").has_value());
  EXPECT_FALSE(base64_decode("Zg").has_value());  // padding is mandatory
}

TEST(Base64, RejectsBadPadding) {
  EXPECT_FALSE(base64_decode("====").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
  EXPECT_FALSE(base64_decode("Zg=a").has_value());
  EXPECT_FALSE(base64_decode("Zg==Zg==").has_value());  // padding in the middle
  EXPECT_FALSE(base64_decode("Zh==").has_value());      // non-zero unused bits
  EXPECT_FALSE(base64_decode("Zm9=").has_value());      // non-zero unused bits
}

TEST(Base64Url, RoundTripAndStrictness) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    const auto enc = base64url_encode(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    EXPECT_EQ(base64url_decode(enc), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64_encode("\xfb\xff", Base64::standard, false), "+/8");
  EXPECT_EQ(base64url_decode("QQ"), "A");
  EXPECT_FALSE(base64url_decode("QR"));    // non-zero unused bits
  EXPECT_FALSE(base64url_decode("QQ=="));  // padding
  EXPECT_FALSE(base64url_decode("Q"));     // 4n+1
  EXPECT_FALSE(base64url_decode("+/8"));
  EXPECT_FALSE(base64url_decode("a b="));
}

TEST(Hex, EncodeAndValues) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode("\x00\x0f\xf0\xff"s), "000ff0ff");
  EXPECT_EQ(hex_value('7'), 7);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
}

TEST(PercentDecode, EscapesAndErrors) {
  EXPECT_EQ(percent_decode("a%20b%2Fc%2fd"), "a b/c/d");
  EXPECT_EQ(percent_decode("%FF%00"), "\xff\x00"s);
  EXPECT_EQ(percent_decode("a+b"), "a+b");  // no form decoding
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%4g"));
  EXPECT_FALSE(percent_decode("ab%"));
}

// RFC 4231 test cases 1 and 2, and an empty key.
TEST(HmacSha256, Rfc4231Vectors) {
  EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex_encode(hmac_sha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacSha256, KeyedContextIsReusedAndPartsConcatenate) {
  HmacSha256 h("Jefe");
  const auto once = h.mac({"what do ya want for nothing?"});
  EXPECT_EQ(h.mac({"what do ya ", "want for ", "nothing?"}), once);
  EXPECT_EQ(h.mac({"what do ya want for nothing?"}), once);
  EXPECT_EQ(h.key(), "Jefe");
}

}  // namespace
}  // namespace rollcall
