#include "hooks/signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace rollcall::hooks {

std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append(1, '.').append(body);

  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  // HMAC() accepts a null key only with length 0; give it a valid pointer.
  static const unsigned char kEmpty = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&kEmpty) : secret.data();
  HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  out.reserve(out.size() + 2 * mac_len);
  for (unsigned int i = 0; i < mac_len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0x0f]);
  }
  return out;
}

}  // namespace rollcall::hooks
