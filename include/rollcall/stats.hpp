// Counters and histograms the server and its services expose for
// monitoring (rollcalld renders them as Prometheus metrics at /metrics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rollcall {

// A histogram as Prometheus has it: `counts[i]` observations were <=
// `bounds[i]` (cumulative); `count` is every observation (the +Inf bucket).
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  std::uint64_t count = 0;
  double sum = 0;
};

// Server::collect_stats: what the server's loops hold right now, and the
// traffic counters since start.
struct ServerStats {
  struct Namespace {
    std::string name;
    std::uint64_t polling = 0;    // sockets whose connection is HTTP long-polling now
    std::uint64_t websocket = 0;  // sockets on a WebSocket now
  };
  std::vector<Namespace> namespaces;  // every namespace with a socket on this node
  std::uint64_t bytes_received = 0;   // HTTP and WebSocket bytes read from clients
  std::uint64_t bytes_sent = 0;       // ... and written to them
  // How late the loops ran a timer due every 100 ms (seconds): the time a
  // ready event waits for the loop.
  HistogramSnapshot loop_lag;
};

}  // namespace rollcall
