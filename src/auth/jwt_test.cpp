#include "auth/jwt.hpp"
#include "common/c_handle.hpp"

#include "common/encoding.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

namespace rollcall::auth {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kSecret = "test-secret-0123456789abcdef";

using PkeyPtr = CHandle<EVP_PKEY, EVP_PKEY_free>;

std::string public_pem(EVP_PKEY* key) {
  CHandle<BIO, BIO_free> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string rs256_sign(EVP_PKEY* key, std::string_view data) {
  CHandle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                           data.size()), 1);
  sig.resize(len);
  return sig;
}

std::string signing_input(const json::object& header, const json::object& claims) {
  return base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(claims));
}

std::string hs256_token(const json::object& header, const json::object& claims,
                        std::string_view secret) {
  const std::string in = signing_input(header, claims);
  return in + "." + base64url_encode(hmac_sha256(secret, in));
}

std::string rs256_token(EVP_PKEY* key, const json::object& claims) {
  const std::string in = signing_input({{"alg", "RS256"}, {"typ", "JWT"}}, claims);
  return in + "." + base64url_encode(rs256_sign(key, in));
}

// One RSA key for the whole test program (generation takes a moment).
EVP_PKEY* rsa_key() {
  static PkeyPtr key(EVP_RSA_gen(2048));
  return key.get();
}

std::unique_ptr<JwtVerifier> make_verifier(JwtConfig cfg) {
  std::string error;
  auto v = JwtVerifier::create(cfg, error);
  EXPECT_TRUE(v) << error;
  return v;
}

std::unique_ptr<JwtVerifier> hs256(std::string issuer = {}, std::string audience = {},
                                   std::chrono::seconds leeway = std::chrono::seconds(30)) {
  JwtConfig cfg;
  cfg.secret = kSecret;
  cfg.issuer = std::move(issuer);
  cfg.audience = std::move(audience);
  cfg.leeway = leeway;
  return make_verifier(cfg);
}

std::error_code verify(const JwtVerifier& v, std::string_view token, std::int64_t now = kNow) {
  Identity id;
  return v.verify(token, id, now);
}

TEST(Jwt, Hs256ValidFillsIdentity) {
  auto v = hs256();
  const auto token = make_hs256_token(
      {{"sub", "u1"}, {"name", "Ada"}, {"exp", kNow + 60},
       {"orgs", json::array{json::object{{"id", "o1"}, {"role", "admin"}}, json::object{{"id", "o2"}}}}},
      kSecret);
  Identity id;
  ASSERT_EQ(v->verify(token, id, kNow), std::error_code{});
  EXPECT_EQ(id.user, "u1");
  EXPECT_EQ(id.name, "Ada");
  ASSERT_EQ(id.orgs.size(), 2u);
  EXPECT_EQ(id.orgs[0].id, "o1");
  EXPECT_EQ(id.orgs[0].role, "admin");
  EXPECT_EQ(id.orgs[1].id, "o2");
  EXPECT_EQ(id.orgs[1].role, "");
}

// Token built by Node's crypto (header/payload JSON.stringify'd, HMAC base64url).
TEST(Jwt, Hs256NodeVector) {
  JwtConfig cfg;
  cfg.secret = "node-secret";
  auto v = make_verifier(cfg);
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiJ1c2VyLTQyIiwibmFtZSI6IkFkYSBMb3ZlbGFjZSIsIm9yZ3MiOlt7ImlkIjoiYWNtZSIsInJvbGUiOiJh"
      "ZG1pbiJ9LHsiaWQiOiJnbG9iZXgifV0sImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ."
      "iyxqfFq_0fIuvD8WOpoWi8tDJtVIvM5ZGgQzQC0UUfs";
  Identity id;
  ASSERT_EQ(v->verify(token, id, 1'700'000'100), std::error_code{});
  EXPECT_EQ(id.user, "user-42");
  EXPECT_EQ(id.name, "Ada Lovelace");
  ASSERT_EQ(id.orgs.size(), 2u);
  EXPECT_EQ(id.orgs[0].id, "acme");
  EXPECT_EQ(id.orgs[0].role, "admin");
  EXPECT_EQ(id.orgs[1].id, "globex");
  EXPECT_EQ(verify(*v, token, 1'700'003'600 + 30), JwtError::expired);
  JwtConfig other;
  other.secret = "node-secreT";
  EXPECT_EQ(verify(*make_verifier(other), token, 1'700'000'100), JwtError::bad_signature);
}

TEST(Jwt, MakeHs256TokenHeader) {
  const auto token = make_hs256_token({{"sub", "x"}}, kSecret);
  EXPECT_EQ(token.substr(0, token.find('.')), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
}

TEST(Jwt, Rs256ValidWrongKeyAndTampered) {
  JwtConfig cfg;
  cfg.alg = JwtAlg::rs256;
  cfg.public_key_pem = public_pem(rsa_key());
  auto v = make_verifier(cfg);
  const auto token = rs256_token(rsa_key(), {{"sub", "rs-user"}, {"exp", kNow + 10}});
  Identity id;
  ASSERT_EQ(v->verify(token, id, kNow), std::error_code{});
  EXPECT_EQ(id.user, "rs-user");

  PkeyPtr other(EVP_RSA_gen(2048));
  EXPECT_EQ(verify(*v, rs256_token(other.get(), {{"sub", "rs-user"}})), JwtError::bad_signature);

  std::string bad_sig = token;
  bad_sig[bad_sig.size() - 5] = bad_sig[bad_sig.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify(*v, bad_sig), JwtError::bad_signature);
  // Truncated signature (wrong length) and an empty one.
  const auto dot2 = token.rfind('.');
  const auto sig = base64url_decode(token.substr(dot2 + 1));
  ASSERT_TRUE(sig);
  EXPECT_EQ(verify(*v, token.substr(0, dot2 + 1) + base64url_encode(sig->substr(1))),
            JwtError::bad_signature);
  EXPECT_EQ(verify(*v, token.substr(0, token.rfind('.') + 1)), JwtError::bad_signature);
}

TEST(Jwt, KeyConfusionHs256TokenAgainstRs256Config) {
  JwtConfig cfg;
  cfg.alg = JwtAlg::rs256;
  cfg.public_key_pem = public_pem(rsa_key());
  auto v = make_verifier(cfg);
  // The classic attack: HMAC-sign with the (public) PEM text as the secret.
  const auto forged = make_hs256_token({{"sub", "admin"}}, cfg.public_key_pem);
  EXPECT_EQ(verify(*v, forged), JwtError::alg_mismatch);
  // And the reverse: an RS256 token against an HS256 verifier.
  EXPECT_EQ(verify(*hs256(), rs256_token(rsa_key(), {{"sub", "u"}})), JwtError::alg_mismatch);
}

TEST(Jwt, AlgNoneIsRejected) {
  auto v = hs256();
  const json::object claims{{"sub", "admin"}};
  for (const char* alg : {"none", "None", "NONE", "hs256", "HS512", ""}) {
    const std::string unsigned_token = signing_input({{"alg", alg}, {"typ", "JWT"}}, claims) + ".";
    EXPECT_EQ(verify(*v, unsigned_token), JwtError::alg_mismatch) << alg;
    // Even with a valid HMAC over the input.
    EXPECT_EQ(verify(*v, hs256_token({{"alg", alg}}, claims, kSecret)), JwtError::alg_mismatch) << alg;
  }
  EXPECT_EQ(make_error_code(JwtError::alg_mismatch).message().find("'none'") != std::string::npos, true);
}

TEST(Jwt, TamperedPayload) {
  auto v = hs256();
  const auto token = make_hs256_token({{"sub", "alice"}}, kSecret);
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  const std::string forged = token.substr(0, dot1 + 1) +
                             base64url_encode(R"({"sub":"admin"})") + token.substr(dot2);
  EXPECT_EQ(verify(*v, forged), JwtError::bad_signature);
  // Signature made with another secret.
  EXPECT_EQ(verify(*v, make_hs256_token({{"sub", "alice"}}, kSecret + "x")), JwtError::bad_signature);
}

TEST(Jwt, Malformed) {
  auto v = hs256();
  const auto good = make_hs256_token({{"sub", "alice"}}, kSecret);
  ASSERT_EQ(verify(*v, good), std::error_code{});
  EXPECT_EQ(verify(*v, ""), JwtError::malformed);
  EXPECT_EQ(verify(*v, "abc"), JwtError::malformed);
  EXPECT_EQ(verify(*v, "a.b"), JwtError::malformed);
  EXPECT_EQ(verify(*v, good + ".x"), JwtError::malformed);
  EXPECT_EQ(verify(*v, good + "="), JwtError::malformed);        // padding
  EXPECT_EQ(verify(*v, "+" + good.substr(1)), JwtError::malformed);  // standard alphabet
  std::string with_slash = good;
  with_slash[good.find('.') + 3] = '/';
  EXPECT_EQ(verify(*v, with_slash), JwtError::malformed);
  std::string with_space = good;
  with_space.insert(good.find('.') + 1, " ");
  EXPECT_EQ(verify(*v, with_space), JwtError::malformed);
  EXPECT_EQ(verify(*v, good.substr(0, good.size() - 1) + "*"), JwtError::malformed);
  // Payload that is not a JSON object (validly signed).
  EXPECT_EQ(verify(*v, hs256_token({{"alg", "HS256"}}, {}, kSecret)), JwtError::missing_sub);
  const std::string in = base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode("[1,2]");
  EXPECT_EQ(verify(*v, in + "." + base64url_encode(hmac_sha256(kSecret, in))), JwtError::malformed);
  // Oversized.
  const auto big = make_hs256_token({{"sub", "a"}, {"pad", std::string(kMaxJwtSize, 'x')}}, kSecret);
  EXPECT_EQ(verify(*v, big), JwtError::malformed);
}

TEST(Jwt, BadHeader) {
  auto v = hs256();
  const json::object claims{{"sub", "u"}};
  auto with_header = [&](std::string_view header_json) {
    const std::string in = base64url_encode(header_json) + "." + base64url_encode(json::serialize(claims));
    return in + "." + base64url_encode(hmac_sha256(kSecret, in));
  };
  EXPECT_EQ(verify(*v, with_header("not json")), JwtError::bad_header);
  EXPECT_EQ(verify(*v, with_header(R"(["HS256"])")), JwtError::bad_header);
  EXPECT_EQ(verify(*v, with_header(R"({"typ":"JWT"})")), JwtError::bad_header);
  EXPECT_EQ(verify(*v, with_header(R"({"alg":256})")), JwtError::bad_header);
  EXPECT_EQ(verify(*v, with_header(R"({"alg":"HS256","typ":1})")), JwtError::bad_header);
  EXPECT_EQ(verify(*v, with_header(R"({"alg":"HS256","crit":["exp"]})")), JwtError::bad_header);
  EXPECT_EQ(verify(*v, with_header(R"({"alg":"HS256"})")), std::error_code{});  // typ is optional
  EXPECT_EQ(verify(*v, with_header(R"({"alg":"HS256","typ":"JWT","kid":"k1"})")), std::error_code{});
}

TEST(Jwt, ExpiryAndNotBeforeWithLeeway) {
  auto v = hs256();  // leeway 30 s
  auto tok = [](json::object claims) {
    claims["sub"] = "u";
    return make_hs256_token(claims, kSecret);
  };
  EXPECT_EQ(verify(*v, tok({{"exp", kNow - 31}})), JwtError::expired);
  EXPECT_EQ(verify(*v, tok({{"exp", kNow - 30}})), JwtError::expired);  // now >= exp + leeway
  EXPECT_EQ(verify(*v, tok({{"exp", kNow - 29}})), std::error_code{});
  EXPECT_EQ(verify(*v, tok({{"exp", kNow - 29.5}})), std::error_code{});  // float exp
  EXPECT_EQ(verify(*v, tok({{"exp", kNow - 30.5}})), JwtError::expired);
  EXPECT_EQ(verify(*v, tok({{"nbf", kNow + 31}})), JwtError::not_yet_valid);
  EXPECT_EQ(verify(*v, tok({{"nbf", kNow + 30}})), std::error_code{});
  EXPECT_EQ(verify(*v, tok({{"nbf", kNow + 30.5}})), JwtError::not_yet_valid);
  EXPECT_EQ(verify(*v, tok({{"nbf", kNow - 1000}, {"exp", kNow + 1000}})), std::error_code{});
  EXPECT_EQ(verify(*v, tok({{"exp", std::uint64_t{18446744073709551615ull}}})), std::error_code{});
  EXPECT_EQ(verify(*v, tok({{"exp", "tomorrow"}})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, tok({{"nbf", nullptr}})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, tok({})), std::error_code{});  // exp and nbf are optional

  auto strict = hs256({}, {}, std::chrono::seconds(0));
  EXPECT_EQ(verify(*strict, tok({{"exp", kNow}})), JwtError::expired);
  EXPECT_EQ(verify(*strict, tok({{"exp", kNow + 1}})), std::error_code{});
  EXPECT_EQ(verify(*strict, tok({{"nbf", kNow}})), std::error_code{});
  EXPECT_EQ(verify(*strict, tok({{"nbf", kNow + 1}})), JwtError::not_yet_valid);
}

TEST(Jwt, Subject) {
  auto v = hs256();
  EXPECT_EQ(verify(*v, make_hs256_token({{"name", "x"}}, kSecret)), JwtError::missing_sub);
  EXPECT_EQ(verify(*v, make_hs256_token({{"sub", ""}}, kSecret)), JwtError::missing_sub);
  EXPECT_EQ(verify(*v, make_hs256_token({{"sub", 42}}, kSecret)), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, make_hs256_token({{"sub", "u"}, {"name", 7}}, kSecret)), JwtError::bad_claims);
}

TEST(Jwt, Orgs) {
  auto v = hs256();
  auto with_orgs = [&](json::value orgs) {
    return make_hs256_token({{"sub", "u"}, {"orgs", std::move(orgs)}}, kSecret);
  };
  Identity id;
  ASSERT_EQ(v->verify(with_orgs(json::array{}), id, kNow), std::error_code{});
  EXPECT_TRUE(id.orgs.empty());
  ASSERT_EQ(v->verify(with_orgs(json::array{json::object{{"id", "a"}, {"role", "member"}, {"extra", 1}}}),
                      id, kNow),
            std::error_code{});
  ASSERT_EQ(id.orgs.size(), 1u);
  EXPECT_EQ(id.orgs[0].role, "member");

  EXPECT_EQ(verify(*v, with_orgs("acme")), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, with_orgs(json::object{{"id", "a"}})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, with_orgs(json::array{"a"})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, with_orgs(json::array{json::object{{"role", "admin"}}})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, with_orgs(json::array{json::object{{"id", 5}}})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, with_orgs(json::array{json::object{{"id", ""}}})), JwtError::bad_claims);
  EXPECT_EQ(verify(*v, with_orgs(json::array{json::object{{"id", "a"}, {"role", nullptr}}})),
            JwtError::bad_claims);
}

TEST(Jwt, IssuerAndAudience) {
  auto v = hs256("https://issuer.example", "rollcall");
  auto tok = [](json::object claims) {
    claims["sub"] = "u";
    return make_hs256_token(claims, kSecret);
  };
  EXPECT_EQ(verify(*v, tok({{"iss", "https://issuer.example"}, {"aud", "rollcall"}})), std::error_code{});
  EXPECT_EQ(verify(*v, tok({{"iss", "https://issuer.example"}, {"aud", json::array{"x", "rollcall"}}})),
            std::error_code{});
  EXPECT_EQ(verify(*v, tok({{"iss", "https://evil.example"}, {"aud", "rollcall"}})), JwtError::bad_issuer);
  EXPECT_EQ(verify(*v, tok({{"aud", "rollcall"}})), JwtError::bad_issuer);
  EXPECT_EQ(verify(*v, tok({{"iss", "https://issuer.example"}, {"aud", "other"}})), JwtError::bad_audience);
  EXPECT_EQ(verify(*v, tok({{"iss", "https://issuer.example"}, {"aud", json::array{"x", 1}}})),
            JwtError::bad_audience);
  EXPECT_EQ(verify(*v, tok({{"iss", "https://issuer.example"}})), JwtError::bad_audience);
  // Not configured: not checked.
  EXPECT_EQ(verify(*hs256(), tok({{"iss", 5}, {"aud", false}})), std::error_code{});
}

TEST(Jwt, FailureLeavesIdentityUntouched) {
  auto v = hs256();
  Identity id{"keep", "me", {{"o", "r"}}};
  EXPECT_EQ(v->verify(make_hs256_token({{"sub", "u"}, {"exp", kNow - 100}}, kSecret), id, kNow),
            JwtError::expired);
  EXPECT_EQ(id.user, "keep");
  EXPECT_EQ(id.orgs.size(), 1u);
}

TEST(Jwt, CreateRejectsBadConfig) {
  std::string error;
  JwtConfig cfg;  // HS256 without secret
  EXPECT_EQ(JwtVerifier::create(cfg, error), nullptr);
  EXPECT_NE(error.find("secret"), std::string::npos);

  cfg.alg = JwtAlg::rs256;
  cfg.secret = "ignored";
  error.clear();
  EXPECT_EQ(JwtVerifier::create(cfg, error), nullptr);  // no key
  EXPECT_FALSE(error.empty());

  cfg.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n";
  error.clear();
  EXPECT_EQ(JwtVerifier::create(cfg, error), nullptr);
  EXPECT_NE(error.find("PEM"), std::string::npos);

  PkeyPtr ec(EVP_EC_gen("P-256"));
  cfg.public_key_pem = public_pem(ec.get());
  error.clear();
  EXPECT_EQ(JwtVerifier::create(cfg, error), nullptr);
  EXPECT_NE(error.find("RSA"), std::string::npos);

  PkeyPtr small(EVP_RSA_gen(1024));
  cfg.public_key_pem = public_pem(small.get());
  error.clear();
  EXPECT_EQ(JwtVerifier::create(cfg, error), nullptr);
  EXPECT_NE(error.find("2048"), std::string::npos);
}

TEST(Jwt, ErrorCategory) {
  const std::error_code ec = JwtError::expired;
  EXPECT_STREQ(ec.category().name(), "jwt");
  EXPECT_EQ(ec.message(), "token expired");
  EXPECT_EQ(std::error_code(JwtError::bad_signature).message(), "token signature is invalid");
  for (int e = static_cast<int>(JwtError::malformed); e <= static_cast<int>(JwtError::bad_claims); ++e) {
    EXPECT_EQ(jwt_category().message(e).find("unknown"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace rollcall::auth
