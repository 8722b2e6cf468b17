#include "hooks/signature.hpp"
#include "common/c_handle.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace rollcall::hooks {

namespace {

// HMAC-SHA256 keyed once per thread and secret: OpenSSL 3 looks algorithms
// up by name (under a lock) on every one-shot HMAC() call; a keyed context
// is only reset between messages.
class Hmac {
 public:
  explicit Hmac(std::string_view secret) : secret_(secret) {
    static const CHandle<EVP_MAC, EVP_MAC_free> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) throw std::runtime_error("OpenSSL: no HMAC");
    ctx_.reset(EVP_MAC_CTX_new(mac.get()));
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    // A zero-length key needs a valid pointer.
    static const unsigned char kEmpty = 0;
    const auto* key = secret.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(secret.data());
    if (!ctx_ || !EVP_MAC_init(ctx_.get(), key, secret.size(), params)) {
      throw std::runtime_error("OpenSSL: cannot set up HMAC-SHA256");
    }
  }
  const std::string& secret() const noexcept { return secret_; }

  // Returns the MAC length; `out` holds at least EVP_MAX_MD_SIZE bytes.
  std::size_t mac(std::string_view a, std::string_view b, std::string_view c, unsigned char* out) {
    std::size_t len = 0;
    // A null key keeps the one set above.
    if (!EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) ||
        !EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(a.data()), a.size()) ||
        !EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(b.data()), b.size()) ||
        !EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(c.data()), c.size()) ||
        !EVP_MAC_final(ctx_.get(), out, &len, EVP_MAX_MD_SIZE)) {
      throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
    }
    return len;
  }

 private:
  std::string secret_;
  CHandle<EVP_MAC_CTX, EVP_MAC_CTX_free> ctx_;
};

}  // namespace

std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body) {
  thread_local std::unique_ptr<Hmac> hmac;
  if (!hmac || hmac->secret() != secret) hmac = std::make_unique<Hmac>(secret);
  unsigned char mac[EVP_MAX_MD_SIZE];
  const std::size_t mac_len = hmac->mac(timestamp, ".", body, mac);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  out.reserve(out.size() + 2 * mac_len);
  for (std::size_t i = 0; i < mac_len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0x0f]);
  }
  return out;
}

}  // namespace rollcall::hooks
