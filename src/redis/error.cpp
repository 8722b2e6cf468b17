#include "redis/error.hpp"

#include <string>

namespace rollcall::redis {

namespace {

class RedisCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int ev) const override {
    switch (static_cast<RedisError>(ev)) {
      case RedisError::protocol_error: return "Redis protocol error (malformed reply)";
      case RedisError::reply_too_large: return "Redis reply is too large";
      case RedisError::unexpected_reply: return "Redis sent a reply no command was waiting for";
      case RedisError::timeout: return "Redis command timed out";
      case RedisError::connect_timeout: return "timed out connecting to Redis";
      case RedisError::connection_lost: return "connection to Redis lost";
      case RedisError::queue_full: return "too many Redis commands pending";
      case RedisError::closed: return "Redis client closed";
      case RedisError::auth_failed: return "Redis authentication failed";
      case RedisError::select_failed: return "Redis SELECT (database index) failed";
      case RedisError::invalid_command: return "invalid Redis command";
      case RedisError::unsupported_command: return "Redis command not supported by this client";
      case RedisError::unavailable:
        return "Redis unavailable: reconnecting is backed off after failed connection attempts";
      case RedisError::resubscribe_failed: return "Redis refused to restore a subscription";
    }
    return "unknown Redis error";
  }
};

}  // namespace

const std::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

std::error_code make_error_code(RedisError e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

}  // namespace rollcall::redis
