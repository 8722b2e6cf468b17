// A dedicated Redis pub/sub connection on Asio (SUBSCRIBE, PSUBSCRIBE and
// their UN- forms), the counterpart of RedisClient for the messages Redis
// pushes. It owns its TCP socket; hiredis is used only as a codec.
//
// Threading: as RedisClient. Every member function must be called on the
// thread running the executor given to create(); callbacks run on that
// executor, always posted: never inline from a member function or the
// destructor.
//
// Behaviour:
// - The subscriber keeps a set of channels and a set of patterns: subscribe()
//   and friends change the set at once and send the command when connected.
//   Whatever the set holds is subscribed again on every new connection.
// - It connects on start() or on the first (p)subscribe(), then keeps a
//   connection until close(). Each connection sends AUTH / SELECT (as
//   RedisClient does, from the same RedisConfig), CLIENT ID, one SUBSCRIBE
//   with every channel and one PSUBSCRIBE with every pattern of the set, and
//   a PING. When the PING is answered every subscription is active: the
//   subscriber is connected() and on_state(true) is called.
// - Deadlines: connect_timeout for resolve + TCP connect, command_timeout for
//   every reply the subscriber waits for. After ping_interval without input
//   it sends a PING (answered ["pong", ""] in subscribed mode) to find a dead
//   connection. A missed deadline drops the connection (RedisError::timeout,
//   RedisError::connect_timeout).
// - A lost connection (closed, timed out, malformed input, AUTH refused...)
//   calls on_state(false) if on_state(true) was the last call, and the
//   subscriber reconnects: at once after losing a connection that had become
//   connected(), then after each failed attempt in a row with the backoff of
//   backoff.hpp (RedisConfig::reconnect_backoff_initial doubling up to
//   reconnect_backoff_max, ±20 % jitter). last_error() says why.
// - Messages published while no connection is subscribed are LOST (Redis
//   pub/sub keeps nothing, as with Node's @socket.io/redis-adapter): on
//   on_state(true) after a gap, the layer above must resync whatever it
//   derives from the messages.
// - Messages go to the message handler as (channel, pattern, payload); the
//   pattern is empty for a plain SUBSCRIBE, the payload is binary-safe. The
//   views are valid during the call only. A channel (pattern) removed from the
//   set by unsubscribe() (punsubscribe()) delivers nothing from then on, even
//   messages already received. A channel that matches both a channel and a
//   pattern of the set is delivered once for each (as Redis sends it).
// - The optional Callback of subscribe() and friends reports the server's
//   confirmation on the current connection: no error_code and the last
//   confirmation (["subscribe", channel, count]) once every name of the call
//   is confirmed (a nil value when the call came while connecting: the
//   whole set is confirmed then, with on_state(true)); or the error that
//   dropped the connection first; or
//   RedisError::unavailable at once while the subscriber is backing off
//   between attempts. In those error cases the names stay in the set and are
//   subscribed on the next connection (watch on_state). If the server refuses
//   the command (an error reply, e.g. NOPERM), the callback gets that reply as
//   a value of type error and the names leave the set. A refusal while
//   restoring the set on a new connection drops it
//   (RedisError::resubscribe_failed) and is retried with backoff: the set is
//   never silently shrunk. unsubscribe() while not connected succeeds at once.
// - Bounds: RedisConfig::max_reply_bytes caps the unparsed input buffered
//   and the size of one message (beyond it: RedisError::reply_too_large, the
//   connection is dropped); at most max_pending commands wait for their
//   confirmation (more fail with RedisError::queue_full, the set unchanged).
// - close() fails every waiting callback with RedisError::closed, drops the
//   connection and makes later calls fail with closed. After close() no
//   message or state handler runs, not even for input already received.
//   Destroying the last shared_ptr does the same.
#pragma once

#include "redis/config.hpp"
#include "redis/error.hpp"
#include "redis/value.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace rollcall::redis {

class Subscriber {
 public:
  using Callback = std::function<void(std::error_code, RedisValue)>;
  using MessageHandler =
      std::function<void(std::string_view channel, std::string_view pattern, std::string_view payload)>;
  using StateHandler = std::function<void(bool connected)>;

  static std::shared_ptr<Subscriber> create(boost::asio::any_io_executor ex, RedisConfig cfg);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void on_message(MessageHandler handler);
  void on_state(StateHandler handler);

  // Connects now (else the first subscribe() or psubscribe() does).
  void start();
  void subscribe(std::vector<std::string> channels, Callback cb = {});
  void psubscribe(std::vector<std::string> patterns, Callback cb = {});
  // An empty list removes every channel (pattern) of the set.
  void unsubscribe(std::vector<std::string> channels = {}, Callback cb = {});
  void punsubscribe(std::vector<std::string> patterns = {}, Callback cb = {});
  void close();

  bool connected() const noexcept;  // connected and every subscription of the set confirmed
  std::size_t channels() const noexcept;  // size of the channel set
  std::size_t patterns() const noexcept;  // size of the pattern set
  long long client_id() const noexcept;   // CLIENT ID of the current connection, 0 if none
  std::error_code last_error() const noexcept;  // why the last connection ended or failed
  std::uint64_t connect_attempts() const noexcept;  // connections started so far

 private:
  class Impl;
  Subscriber(boost::asio::any_io_executor ex, RedisConfig cfg);
  std::shared_ptr<Impl> impl_;
};

}  // namespace rollcall::redis
