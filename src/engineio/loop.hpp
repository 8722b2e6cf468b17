// One event loop per thread; everything a connection owns lives on one loop.
#pragma once

#include "engineio/heartbeat.hpp"
#include "engineio/frame.hpp"
#include "common/histogram.hpp"
#include "common/poller.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rollcall::engineio {
class Session;
}

namespace rollcall {

struct Loop {
  explicit Loop(unsigned idx);
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  unsigned index;
  boost::asio::io_context ioc{1};
  // A connection that held a lot of memory (an attack, a slow consumer)
  // went away: a second later, hand the heap's free pages back to the
  // system (malloc_trim), once for all such closes of that second. (Before
  // the members below: sessions ask for it as they are destroyed.)
  void trim_heap_soon();
  boost::asio::steady_timer trim_timer{ioc};
  bool trim_armed = false;
  // Heartbeats of every session of this loop, on one timer.
  engineio::HeartbeatWheel heartbeat{ioc};
  // Engine.IO sessions owned by this loop, by sid (the key views the
  // session's own sid). Other loops never touch it: a request for a sid is
  // moved to the loop named by the sid's tag.
  std::unordered_map<std::string_view, std::shared_ptr<engineio::Session>> sessions;
  // Read buffer shared by every WebSocket connection of the loop: a read is
  // parsed in place, only an incomplete frame tail is kept per connection.
  std::vector<char> read_buffer;
  // Marker for de-duplicating broadcast recipients without allocating.
  std::uint64_t epoch = 0;
  // Control frames built once per loop.
  Frame ping, noop, close, probe_reply;
  std::size_t websockets = 0;  // live WebSocket connections (for the drain)
  std::shared_ptr<std::function<void()>> shutdown_check;
  bool stopping = false;

  // Monitoring (Server::collect_stats): bytes read from and written to
  // clients, and how late this loop runs a timer due every kLagTick.
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0};
  void count_in(std::size_t n) noexcept { bytes_in.fetch_add(n, std::memory_order_relaxed); }
  void count_out(std::size_t n) noexcept { bytes_out.fetch_add(n, std::memory_order_relaxed); }
  static constexpr std::chrono::milliseconds kLagTick{100};
  Histogram<10> lag{{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  boost::asio::steady_timer lag_timer{ioc};
  // Arms lag_timer, and again each time it fires (on the loop's thread).
  void measure_lag();

  // The loop's WebSocket connections (last: it owns them, and they use the
  // members above when they go).
  Poller poller{ioc};
};

// The loop running on the calling thread, or nullptr.
Loop* current_loop() noexcept;
void set_current_loop(Loop* loop) noexcept;

}  // namespace rollcall
