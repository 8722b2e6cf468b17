// Per-loop heartbeat scheduling. One timer per loop instead of one per
// session: every per-session timer change would be a timerfd update and
// every expiry its own wake-up.
//
// Sessions schedule (due, slack, generation) entries; a newer schedule of
// the same session makes older entries stale (the session ignores a stale
// generation). Entries whose slack is at least one tick go into coarse
// buckets (one per tick, O(1) to add, served in one sweep), so the pings of
// thousands of sessions that are due within the same tick share one
// wake-up and the pongs come back in one burst. Entries with less slack
// (short intervals, as in the conformance suites) go into an exact heap.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace rollcall::engineio {

// Target needs `void on_heartbeat(std::uint32_t gen)`.
template <class Target>
class BasicHeartbeatWheel {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::duration kTick = std::chrono::milliseconds(250);

  explicit BasicHeartbeatWheel(boost::asio::io_context& ioc) : timer_(ioc) {}

  // Calls target->on_heartbeat(gen) at `due`, or up to `slack` earlier.
  // Callers that must not fire early (timeouts) add the slack to `due`
  // themselves.
  void schedule(const std::shared_ptr<Target>& target, std::uint32_t gen, Clock::time_point due,
                Clock::duration slack) {
    Clock::time_point at;
    if (slack >= kTick) {
      // Served at the start of the tick that holds `due`: in (due - kTick, due].
      auto tick = due.time_since_epoch() / kTick;
      buckets_[tick].push_back(Item{target, gen});
      at = start_of(tick);
    } else {
      heap_.push_back(Exact{due, Item{target, gen}});
      std::push_heap(heap_.begin(), heap_.end(), Later{});
      at = due;
    }
    if (!firing_ && at < armed_for_) arm();
  }

  // Timer expiries served so far.
  std::uint64_t wakeups() const noexcept { return wakeups_; }

  // Entries waiting, stale ones included.
  std::size_t size() const noexcept {
    std::size_t n = heap_.size();
    for (const auto& [tick, items] : buckets_) n += items.size();
    return n;
  }

 private:
  struct Item {
    std::weak_ptr<Target> target;
    std::uint32_t gen;
  };
  struct Exact {
    Clock::time_point due;
    Item item;
  };
  struct Later {
    bool operator()(const Exact& a, const Exact& b) const { return a.due > b.due; }
  };

  static Clock::time_point start_of(Clock::rep tick) { return Clock::time_point(tick * kTick); }

  Clock::time_point next() const {
    auto at = Clock::time_point::max();
    if (!heap_.empty()) at = heap_.front().due;
    if (!buckets_.empty()) at = std::min(at, start_of(buckets_.begin()->first));
    return at;
  }

  void arm() {
    armed_for_ = next();
    if (armed_for_ == Clock::time_point::max()) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(armed_for_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) fire();
    });
  }

  void fire() {
    ++wakeups_;
    armed_for_ = Clock::time_point::max();
    auto now = Clock::now();
    // Collect first: the handlers schedule again.
    due_.clear();
    while (!buckets_.empty() && start_of(buckets_.begin()->first) <= now) {
      auto& items = buckets_.begin()->second;
      if (due_.empty()) {
        due_.swap(items);
      } else {
        due_.insert(due_.end(), std::make_move_iterator(items.begin()),
                    std::make_move_iterator(items.end()));
      }
      buckets_.erase(buckets_.begin());
    }
    while (!heap_.empty() && heap_.front().due <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      due_.push_back(std::move(heap_.back().item));
      heap_.pop_back();
    }
    firing_ = true;
    for (auto& e : due_) {
      if (auto t = e.target.lock()) t->on_heartbeat(e.gen);
    }
    firing_ = false;
    due_.clear();
    if (due_.capacity() > 4096) due_.shrink_to_fit();
    if (heap_.capacity() > 64 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
    arm();
  }

  boost::asio::steady_timer timer_;
  std::map<Clock::rep, std::vector<Item>> buckets_;  // tick number -> entries
  std::vector<Exact> heap_;                          // min-heap on `due`
  std::vector<Item> due_;                            // reused by fire()
  Clock::time_point armed_for_ = Clock::time_point::max();
  std::uint64_t wakeups_ = 0;
  bool firing_ = false;  // handlers reschedule while fire() runs: arm once at its end
};

class Session;
using HeartbeatWheel = BasicHeartbeatWheel<Session>;

}  // namespace rollcall::engineio
