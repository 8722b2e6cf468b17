// Options checking of the public identity middleware; what it accepts and
// refuses on a live server is covered by tests/interop/auth.test.mjs and
// session.test.mjs (through rollcalld).
#include <rollcall/auth.hpp>

#include <gtest/gtest.h>

#include <string>

namespace rollcall::auth {
namespace {

// The OptionsError thrown for `options`, or one with an empty option.
OptionsError refusal(IdentityOptions options) {
  try {
    identity_middleware(std::move(options));
  } catch (const OptionsError& e) {
    return e;
  }
  return OptionsError("", "");
}

TEST(IdentityMiddleware, NothingConfiguredIsAMiddlewareThatLetsEveryoneIn) {
  EXPECT_TRUE(static_cast<bool>(identity_middleware({})));
}

TEST(IdentityMiddleware, UsableOptionsGiveAMiddleware) {
  IdentityOptions o;
  o.jwt = JwtOptions{.secret = "s3cr3t"};
  o.session = SessionOptions{.secrets = {"keyboard cat"}, .redis_url = "redis://127.0.0.1:16379/2"};
  EXPECT_TRUE(static_cast<bool>(identity_middleware(std::move(o))));
}

TEST(IdentityMiddleware, AnEmptyHs256SecretIsAJwtOptionsError) {
  IdentityOptions o;
  o.jwt = JwtOptions{};
  auto e = refusal(std::move(o));
  EXPECT_EQ(e.option, "jwt");
  EXPECT_FALSE(e.reason.empty());
  EXPECT_EQ(std::string(e.what()), "jwt: " + e.reason);
}

TEST(IdentityMiddleware, AnRs256KeyThatIsNotPemIsAJwtOptionsError) {
  IdentityOptions o;
  o.jwt = JwtOptions{.algorithm = JwtAlgorithm::rs256, .public_key_pem = "not a key"};
  EXPECT_EQ(refusal(std::move(o)).option, "jwt");
}

TEST(IdentityMiddleware, ABadRedisUrlIsASessionOptionsError) {
  IdentityOptions o;
  o.session = SessionOptions{.secrets = {"keyboard cat"}, .redis_url = "rediss://example.test"};
  EXPECT_EQ(refusal(std::move(o)).option, "session.redis_url");
}

TEST(IdentityMiddleware, SessionsWithoutASecretAreRefused) {
  IdentityOptions o;
  o.session = SessionOptions{};
  EXPECT_EQ(refusal(std::move(o)).option, "session.secrets");
}

}  // namespace
}  // namespace rollcall::auth
