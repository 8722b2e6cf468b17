#include "auth/jwt.hpp"
#include "common/c_handle.hpp"

#include "common/encoding.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <optional>

namespace rollcall::auth {

namespace json = boost::json;

namespace {

class JwtCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "jwt"; }
  std::string message(int ev) const override {
    switch (static_cast<JwtError>(ev)) {
      case JwtError::malformed: return "token is malformed";
      case JwtError::bad_header: return "token header is invalid";
      case JwtError::alg_mismatch:
        return "token algorithm is not allowed (only the configured algorithm is accepted; "
               "'none' never is)";
      case JwtError::bad_signature: return "token signature is invalid";
      case JwtError::expired: return "token expired";
      case JwtError::not_yet_valid: return "token is not valid yet (nbf)";
      case JwtError::bad_issuer: return "token issuer is not accepted";
      case JwtError::bad_audience: return "token audience is not accepted";
      case JwtError::missing_sub: return "token has no subject (sub)";
      case JwtError::bad_claims: return "token claims are invalid";
    }
    return "unknown token error";
  }
};

using PkeyPtr = CHandle<EVP_PKEY, EVP_PKEY_free>;
using MdCtxPtr = CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = CHandle<BIO, BIO_free>;

constexpr std::size_t kHs256Size = 32;
constexpr int kMinRsaBits = 2048;

// JSON numbers of any representation as a double (exp/nbf may be floats).
std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

bool audience_matches(const json::value& aud, std::string_view expected) {
  if (const auto* s = aud.if_string()) return *s == expected;
  if (const auto* a = aud.if_array()) {
    for (const auto& e : *a) {
      if (const auto* s = e.if_string(); s && *s == expected) return true;
    }
  }
  return false;
}

std::error_code read_orgs(const json::value& v, std::vector<OrgRole>& out) {
  const auto* arr = v.if_array();
  if (arr == nullptr) return JwtError::bad_claims;
  out.reserve(arr->size());
  for (const auto& e : *arr) {
    const auto* o = e.if_object();
    if (o == nullptr) return JwtError::bad_claims;
    const auto* id = o->if_contains("id");
    if (id == nullptr || !id->is_string() || id->get_string().empty()) return JwtError::bad_claims;
    OrgRole org{std::string(id->get_string()), {}};
    if (const auto* role = o->if_contains("role")) {
      if (!role->is_string()) return JwtError::bad_claims;
      org.role = std::string(role->get_string());
    }
    out.push_back(std::move(org));
  }
  return {};
}

}  // namespace

const std::error_category& jwt_category() noexcept {
  static const JwtCategory category;
  return category;
}

std::error_code make_error_code(JwtError e) noexcept {
  return {static_cast<int>(e), jwt_category()};
}

struct JwtVerifier::Key {
  PkeyPtr pkey;
};

JwtVerifier::JwtVerifier(const JwtConfig& config) : config_(config) {}
JwtVerifier::~JwtVerifier() = default;

std::unique_ptr<JwtVerifier> JwtVerifier::create(const JwtConfig& config, std::string& error) {
  std::unique_ptr<JwtVerifier> v(new JwtVerifier(config));
  if (config.alg == JwtAlg::hs256) {
    if (config.secret.empty()) {
      error = "jwt: HS256 needs a non-empty secret";
      return nullptr;
    }
    v->config_.public_key_pem.clear();
    return v;
  }
  v->config_.secret.clear();
  if (config.public_key_pem.empty()) {
    error = "jwt: RS256 needs a public key (PEM)";
    return nullptr;
  }
  BioPtr bio(BIO_new_mem_buf(config.public_key_pem.data(),
                             static_cast<int>(config.public_key_pem.size())));
  PkeyPtr pkey(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  if (!pkey) {
    error = "jwt: the RS256 public key is not a valid PEM public key "
            "(expected \"-----BEGIN PUBLIC KEY-----\")";
    return nullptr;
  }
  if (EVP_PKEY_is_a(pkey.get(), "RSA") != 1) {
    error = "jwt: the RS256 public key is not an RSA key";
    return nullptr;
  }
  if (EVP_PKEY_get_bits(pkey.get()) < kMinRsaBits) {
    error = "jwt: the RS256 public key is shorter than 2048 bits";
    return nullptr;
  }
  v->key_ = std::make_unique<Key>(Key{std::move(pkey)});
  return v;
}

std::error_code JwtVerifier::verify(std::string_view token, Identity& out,
                                    std::int64_t now_seconds) const {
  if (token.empty() || token.size() > kMaxJwtSize) return JwtError::malformed;
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return JwtError::malformed;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError::malformed;
  }
  const auto header_text = base64url_decode(token.substr(0, dot1));
  const auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) return JwtError::malformed;

  // Both JSON documents live in one arena on the stack (falls back to the heap).
  unsigned char arena[4096];
  json::monotonic_resource mr(arena, sizeof arena);
  json::error_code jec;

  // Header: "alg" must name the configured algorithm; the header never chooses.
  const json::value header = json::parse(*header_text, jec, &mr);
  const auto* h = header.if_object();
  if (jec || h == nullptr) return JwtError::bad_header;
  const auto* alg = h->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return JwtError::bad_header;
  if (const auto* typ = h->if_contains("typ"); typ && !typ->is_string()) return JwtError::bad_header;
  if (h->contains("crit")) return JwtError::bad_header;  // no extensions understood (RFC 7515 4.1.11)
  const std::string_view expected_alg = config_.alg == JwtAlg::hs256 ? "HS256" : "RS256";
  if (alg->get_string() != expected_alg) return JwtError::alg_mismatch;

  // Signature over the ASCII "header.payload", checked before the payload is parsed.
  const std::string_view signed_part = token.substr(0, dot2);
  if (config_.alg == JwtAlg::hs256) {
    const std::string mac = hmac_sha256(config_.secret, signed_part);
    if (mac.size() != kHs256Size || signature->size() != kHs256Size ||
        CRYPTO_memcmp(mac.data(), signature->data(), kHs256Size) != 0) {
      return JwtError::bad_signature;
    }
  } else {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    const bool ok =
        ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                         signature->size(),
                         reinterpret_cast<const unsigned char*>(signed_part.data()),
                         signed_part.size()) == 1;
    if (!ok) {
      ERR_clear_error();
      return JwtError::bad_signature;
    }
  }

  const json::value payload = json::parse(*payload_text, jec, &mr);
  const auto* claims = payload.if_object();
  if (jec || claims == nullptr) return JwtError::malformed;

  const double now = static_cast<double>(now_seconds);
  const double leeway = static_cast<double>(config_.leeway.count());
  if (const auto* exp = claims->if_contains("exp")) {
    const auto v = as_number(*exp);
    if (!v) return JwtError::bad_claims;
    if (now >= *v + leeway) return JwtError::expired;
  }
  if (const auto* nbf = claims->if_contains("nbf")) {
    const auto v = as_number(*nbf);
    if (!v) return JwtError::bad_claims;
    if (now < *v - leeway) return JwtError::not_yet_valid;
  }
  if (!config_.issuer.empty()) {
    const auto* iss = claims->if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->get_string() != config_.issuer) {
      return JwtError::bad_issuer;
    }
  }
  if (!config_.audience.empty()) {
    const auto* aud = claims->if_contains("aud");
    if (aud == nullptr || !audience_matches(*aud, config_.audience)) return JwtError::bad_audience;
  }

  Identity id;
  const auto* sub = claims->if_contains("sub");
  if (sub == nullptr) return JwtError::missing_sub;
  if (!sub->is_string()) return JwtError::bad_claims;
  if (sub->get_string().empty()) return JwtError::missing_sub;
  id.user = std::string(sub->get_string());
  if (const auto* name = claims->if_contains("name")) {
    if (!name->is_string()) return JwtError::bad_claims;
    id.name = std::string(name->get_string());
  }
  if (const auto* orgs = claims->if_contains("orgs")) {
    if (auto ec = read_orgs(*orgs, id.orgs)) return ec;
  }
  out = std::move(id);
  return {};
}

std::string make_hs256_token(const json::object& claims, std::string_view secret) {
  std::string token = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += base64url_encode(json::serialize(claims));
  const std::string mac = hmac_sha256(secret, token);
  token += '.';
  token += base64url_encode(mac);
  return token;
}

}  // namespace rollcall::auth
