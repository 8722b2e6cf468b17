#include "hooks/signature.hpp"
#include "common/encoding.hpp"

#include <memory>
#include <string>

namespace rollcall::hooks {

std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body) {
  // Keyed once per thread and secret (see HmacSha256).
  thread_local std::unique_ptr<HmacSha256> hmac;
  if (!hmac || hmac->key() != secret) hmac = std::make_unique<HmacSha256>(secret);
  return "sha256=" + hex_encode(hmac->mac({timestamp, ".", body}));
}

}  // namespace rollcall::hooks
