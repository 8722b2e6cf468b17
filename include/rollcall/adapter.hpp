// Extending a Server to other nodes (Node's Adapter). rollcall's Redis
// cluster (<rollcall/cluster.hpp>) is one; an embedder may write another.
//
// The server serves the local part of every operation itself and hands the
// rest to the adapter: a broadcast is delivered to this node's sockets and
// given to ClusterAdapter::broadcast for the others, and so on. What comes
// from other nodes the adapter applies through the public API, restricted
// to this node: server.of(nsp).target(t).local().emit(...), ...fetch_sockets,
// Namespace::deliver_server_side. Operations with `local` set never reach
// the adapter.
//
// Calls come from any thread (the caller's: a handler on a loop, or an
// embedder's thread) and must not block. Callbacks may be called from any
// thread, once.
#pragma once

#include <rollcall/server.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace rollcall {

using Target = BroadcastOperator::Target;

// A Socket.IO event as it travels between nodes.
struct ClusterPacket {
  std::string nsp;
  boost::json::array data;          // [event, ...args], binary values as placeholders
  std::vector<Bytes> attachments;   // the binary values, by placeholder number
};

class ClusterAdapter {
 public:
  virtual ~ClusterAdapter() = default;

  // A namespace now exists on this node (static ones at set_cluster_adapter,
  // dynamic ones when created): subscribe to what concerns it.
  virtual void namespace_created(Namespace& nsp) = 0;

  virtual void broadcast(const ClusterPacket& packet, const Target& target) = 0;
  virtual void sockets_join(const std::string& nsp, const Target& target, const std::string& room) = 0;
  virtual void sockets_leave(const std::string& nsp, const Target& target, const std::string& room) = 0;
  virtual void disconnect_sockets(const std::string& nsp, const Target& target, bool close) = 0;

  // The matching sockets of the other nodes; `cb` once, after every node
  // answered or the adapter's request timeout.
  virtual void fetch_sockets(const std::string& nsp, const Target& target, FetchCallback cb) = 0;

  // The packet to the other nodes' matching sockets, each asked for an
  // ack; `cb` once with their answers, ec timed_out when some node or
  // socket did not answer within `timeout`.
  virtual void broadcast_with_ack(const ClusterPacket& packet, const Target& target,
                                  Millis timeout, BroadcastAckCallback cb) = 0;

  // Namespace::server_side_emit: to the other nodes' handlers of `event`.
  // With a callback (else null): one answer per other node, ec timed_out
  // when some did not answer within `timeout`.
  virtual void server_side_emit(const std::string& nsp, const std::string& event, Args args,
                                Millis timeout, BroadcastAckCallback cb) = 0;
};

}  // namespace rollcall
