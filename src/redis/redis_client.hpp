// A small pipelining Redis client on Asio. The client owns its TCP socket;
// hiredis 0.14 is used only as a codec (reply_parser.hpp).
//
// Threading: every member function must be called on the thread running the
// executor given to create() (one loop per thread, as the rest of rollcall);
// the client holds no locks. Callbacks run on that executor too, always
// posted: never inline from command(), close() or the destructor.
//
// Behaviour:
// - Connects lazily on the first command; AUTH (when a password is set) and
//   SELECT (when db != 0) are pipelined ahead of the first commands. If either
//   gets an error reply, every pending command fails with auth_failed /
//   select_failed and a value of type error carrying the server's message.
// - Commands are pipelined: written back to back, replies matched in FIFO
//   order. At most RedisConfig::max_pending may wait; more fail at once with
//   RedisError::queue_full.
// - Each command must be answered within command_timeout of its command()
//   call, else every pending command fails with RedisError::timeout and the
//   connection is dropped; the next command reconnects. The same holds for
//   connect_timeout (RedisError::connect_timeout).
// - A refused or lost connection fails every pending command with an
//   error_code (std::errc::connection_refused, RedisError::connection_lost,
//   ...) and the next command reconnects. Commands are never retried.
// - Reconnect backoff: a connection that ends before any command got its
//   reply (refused, timed out, closed or failed AUTH/SELECT) is a failed
//   attempt. After the first one the next command still tries again at once;
//   after the n-th in a row (n >= 2) no attempt is made for
//   RedisConfig::reconnect_backoff_initial * 2^(n-2), capped at
//   reconnect_backoff_max, each delay jittered by ±20 % (backoff.hpp), and
//   commands issued meanwhile fail at once with RedisError::unavailable (so a
//   dead Redis is not dialled by every command, and nothing waits on it).
//   A command that gets its reply ends the streak; losing a connection that
//   worked is not a failed attempt.
// - A Redis error reply ("-ERR ...") is a successful completion whose value
//   has type RedisValue::Type::error, not an error_code.
// - Pub/sub, MONITOR, CLIENT REPLY and HELLO are refused
//   (RedisError::unsupported_command): they break the request/reply pairing
//   or switch to RESP3. Pub/sub needs a dedicated subscriber connection.
// - close() fails every pending command with RedisError::closed, drops the
//   connection and makes later commands fail with closed. Destroying the last
//   shared_ptr does the same: in-flight operations do not keep the client
//   alive, so keep the shared_ptr while you expect replies.
#pragma once

#include "redis/config.hpp"
#include "redis/error.hpp"
#include "redis/value.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace rollcall::redis {

class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  using Callback = std::function<void(std::error_code, RedisValue)>;

  static std::shared_ptr<RedisClient> create(boost::asio::any_io_executor ex, RedisConfig cfg);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends argv (binary-safe) and calls `cb` with the reply or an error.
  void command(std::vector<std::string> argv, Callback cb);
  void close();

  bool connected() const noexcept;    // TCP connection established and not dropped
  std::size_t pending() const noexcept;  // commands waiting for a reply (incl. AUTH/SELECT)
  std::uint64_t connect_attempts() const noexcept;  // connections started so far

 private:
  class Impl;
  RedisClient(boost::asio::any_io_executor ex, RedisConfig cfg);
  std::shared_ptr<Impl> impl_;
};

}  // namespace rollcall::redis
