// libFuzzer target: JWT verification of arbitrary tokens with an HS256
// verifier (must never crash), plus a round trip: when the input is a JSON
// object, it is signed as claims and must then pass every check that does
// not depend on the claims themselves.
#include "auth/jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace auth = rollcall::auth;

namespace {

constexpr std::string_view kSecret = "fuzz-secret";
constexpr std::int64_t kNow = 1'700'000'000;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const auth::JwtVerifier& verifier() {
  static const auto v = [] {
    auth::JwtConfig cfg;
    cfg.secret = std::string(kSecret);
    std::string error;
    auto p = auth::JwtVerifier::create(cfg, error);
    check(p != nullptr);
    return p;
  }();
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto& v = verifier();

  // Arbitrary token: any error is fine; success must yield a user.
  auth::Identity id;
  if (!v.verify(in, id, kNow)) check(!id.user.empty());

  // Input as claims: a token we sign ourselves is never malformed (unless too
  // long), never has a bad header, algorithm or signature.
  boost::json::error_code ec;
  const boost::json::value claims = boost::json::parse(in, ec);
  // Claims that do not survive a JSON round trip (a number that overflowed
  // to infinity serializes to something a parser refuses) cannot be signed
  // meaningfully: skip them.
  bool round_trips = false;
  if (!ec && claims.is_object()) {
    boost::json::error_code ec2;
    boost::json::parse(boost::json::serialize(claims), ec2);
    round_trips = !ec2;
  }
  if (round_trips) {
    const std::string token = auth::make_hs256_token(claims.get_object(), kSecret);
    auth::Identity out;
    const std::error_code err = v.verify(token, out, kNow);
    if (token.size() > auth::kMaxJwtSize) {
      check(err == auth::JwtError::malformed);
    } else {
      check(err != auth::JwtError::malformed && err != auth::JwtError::bad_header &&
            err != auth::JwtError::alg_mismatch && err != auth::JwtError::bad_signature &&
            err != auth::JwtError::bad_issuer && err != auth::JwtError::bad_audience);
      if (!err) check(out.user == claims.get_object().at("sub").get_string());
    }
  }
  return 0;
}
