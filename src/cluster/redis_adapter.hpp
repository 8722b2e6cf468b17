// The cluster adapter on Redis pub/sub, wire-compatible with Node's classic
// @socket.io/redis-adapter 8 (createAdapter) and @socket.io/redis-emitter 5
// (shared/docs/socketio-protocol.md, section 4.1), so Node socket.io
// servers on the same Redis with the same `key` are full peers.
//
// Channels, for each namespace N (K = key):
//   K#N#          (PSUBSCRIBE K#N#*) broadcasts to everyone or to >= 2 rooms
//   K#N#<room>#   broadcasts to exactly one room (same pattern)
//   K-request#N#  requests: join/leave/disconnect (JSON), fetch (JSON),
//                 server-side emits (JSON), broadcasts with acks (msgpack)
//   K-response#N# and K-response#N#<uid>#: the answers
// Broadcasts are msgpack [uid, packet, opts]; binary values travel as
// msgpack bin. A node ignores its own messages (by uid). Requests that
// wait for answers expect `PUBSUB NUMSUB K-request#N#` - 1 of them (one
// per other node) within requests_timeout.
//
// Threading: one thread of its own (an io_context, a RedisClient for
// PUBLISH and PUBSUB, a Subscriber). The ClusterAdapter calls come from any
// thread and are posted there; what other nodes send is applied through
// the Server's public API (target(t) with local set), which is thread-safe.
//
// Pub/sub keeps nothing: messages published while this node's subscriber
// is reconnecting are lost, as with Node's adapter (logged when the
// connection comes back).
#pragma once

#include "redis/config.hpp"

#include <rollcall/adapter.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace rollcall::cluster {

struct RedisAdapterOptions {
  redis::RedisConfig redis;
  std::string key = "socket.io";
  std::chrono::milliseconds requests_timeout{5000};
  std::size_t max_pending_requests = 10000;  // requests waiting for answers; more fail at once
};

class RedisAdapter : public ClusterAdapter {
 public:
  // The server must outlive the adapter's stop().
  static std::shared_ptr<RedisAdapter> create(Server& server, RedisAdapterOptions options);
  ~RedisAdapter() override = default;

  virtual void start() = 0;
  // Fails what waits for answers (their callbacks get what came, with
  // timed_out), closes the connections, joins the thread.
  virtual void stop() = 0;
  virtual const std::string& uid() const noexcept = 0;
};

}  // namespace rollcall::cluster
