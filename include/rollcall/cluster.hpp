// Several rollcall nodes (and Node socket.io servers) as one cluster on a
// Redis: presence decided once for the cluster, Socket.IO operations
// carried to every node. Package component `cluster` (rollcall::cluster).
// docs/cluster.md describes the guarantees, the keys and the failure modes.
#pragma once

#include <rollcall/server.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace rollcall {

// rollcalld's [cluster] table; the same names and defaults.
struct ClusterOptions {
  std::string redis_url;         // "redis://[user:password@]host:port/db"
  std::string node_id;           // empty: generated, unique per process start
  Millis lease{5000};            // a node silent this long is dead
  std::string adapter_key = "socket.io";  // channel prefix, as Node's redis-adapter `key`
  std::string prefix = "rollcall";        // every other Redis key starts with this
  Millis requests_timeout{5000};          // fetch_sockets, acks, server-side emits across nodes
  std::string address{};  // where this node listens, shown by the admin API's node list
};

class Cluster {
 public:
  // Joins `server` to the cluster. Call it before server.run(), after the
  // namespaces are set up. With ServerOptions::presence.enabled the
  // server's presence becomes the cluster's (grace, namespace and webhooks
  // from ServerOptions::presence; its store is not used: state lives in
  // Redis). The node registers in the background and keeps retrying while
  // Redis is unreachable. Throws std::invalid_argument for a bad redis_url.
  Cluster(Server& server, ClusterOptions options);
  // stop()
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Leaves the cluster: sends what is queued (at most 2 s), ends the
  // node's lease so that the others take over at once, stops the threads.
  // Call it after server.run() has returned.
  void stop();

  // This node's id (ClusterOptions::node_id, or the generated one).
  const std::string& node_id() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollcall
