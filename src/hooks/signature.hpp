// Webhook request signature (see docs/webhooks.md).
#pragma once

#include <string>
#include <string_view>

namespace rollcall::hooks {

// "sha256=" + lowercase hex of HMAC-SHA256(secret, timestamp + "." + body).
std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body);

}  // namespace rollcall::hooks
