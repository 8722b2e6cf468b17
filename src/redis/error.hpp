// Error codes of the Redis client. A Redis "-ERR ..." reply is not one of
// them: it is a RedisValue of type error (see value.hpp).
#pragma once

#include <system_error>
#include <type_traits>

namespace rollcall::redis {

enum class RedisError {
  protocol_error = 1,   // the server sent bytes that are not RESP2 (connection dropped)
  reply_too_large,      // a reply exceeded RedisConfig::max_reply_bytes (connection dropped)
  unexpected_reply,     // a reply arrived with no command waiting for it, or not the kind
                        // of reply the command waits for (connection dropped)
  timeout,              // a command got no reply within command_timeout (connection dropped)
  connect_timeout,      // resolving + connecting took longer than connect_timeout
  connection_lost,      // the server closed the connection
  queue_full,           // more than max_pending commands are waiting
  closed,               // close() was called or the client was destroyed
  auth_failed,          // AUTH got an error reply (the value carries the server's message)
  select_failed,        // SELECT got an error reply (the value carries the server's message)
  invalid_command,      // empty argv, or too large to encode
  unsupported_command,  // SUBSCRIBE/MONITOR and friends: they break request/reply pairing
  unavailable,          // not sent: reconnecting is held back after failed connection
                        // attempts (RedisConfig::reconnect_backoff_*)
  resubscribe_failed,   // Subscriber: the server refused to restore a subscription after a
                        // reconnect (connection dropped, retried with backoff)
};

const std::error_category& redis_category() noexcept;
std::error_code make_error_code(RedisError e) noexcept;

}  // namespace rollcall::redis

template <>
struct std::is_error_code_enum<rollcall::redis::RedisError> : std::true_type {};
