// Per-loop heartbeat scheduling. One timer per loop instead of one per
// session: every per-session timer change would be a timerfd update and
// every expiry its own wake-up. Sessions schedule (due, generation) entries
// in a heap; a newer schedule of the same session makes older entries stale.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace rollcall::engineio {

class Session;

class HeartbeatWheel {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HeartbeatWheel(boost::asio::io_context& ioc) : timer_(ioc) {}

  // Calls session->on_heartbeat(gen) at `due`, or up to `slack` earlier so
  // that entries due close together are served by one wake-up.
  void schedule(const std::shared_ptr<Session>& session, std::uint32_t gen, Clock::time_point due,
                Clock::duration slack);

  std::size_t size() const noexcept { return heap_.size(); }

 private:
  struct Entry {
    Clock::time_point earliest;
    std::weak_ptr<Session> session;
    std::uint32_t gen;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const { return a.earliest > b.earliest; }
  };

  void arm();
  void fire();

  boost::asio::steady_timer timer_;
  std::vector<Entry> heap_;  // min-heap on `earliest`
  Clock::time_point armed_for_ = Clock::time_point::max();
};

}  // namespace rollcall::engineio
