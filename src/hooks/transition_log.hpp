// What presence keeps for operators (the admin API, /metrics): the newest
// transitions it announced and its counters. Shared by the built-in and the
// cluster presence; thread-safe.
#pragma once

#include "hooks/webhook_sender.hpp"

#include <rollcall/presence.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace rollcall::hooks {

class TransitionLog {
 public:
  static constexpr std::size_t kKeep = 1000;

  void record(const PresenceEvent& e) {
    (e.type == "user.online" ? online_ : offline_).fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    newest_.push_front(e);
    if (newest_.size() > kKeep) newest_.pop_back();
  }

  // Newest first.
  std::vector<PresenceEvent> newest(std::size_t max) const {
    std::lock_guard lock(mutex_);
    return {newest_.begin(), newest_.begin() + static_cast<std::ptrdiff_t>(std::min(max, newest_.size()))};
  }

  // The counters, with the webhook figures of `sender` (null: webhooks off).
  PresenceMetrics metrics(const WebhookSender::Stats* sender) const {
    PresenceMetrics m;
    m.online = online_.load(std::memory_order_relaxed);
    m.offline = offline_.load(std::memory_order_relaxed);
    if (sender != nullptr) {
      m.webhook_delivered = sender->delivered;
      m.webhook_failed = sender->failed_attempts;
      m.webhook_dead = sender->dead_lettered;
      m.webhook_seconds = sender->seconds;
    }
    return m;
  }

 private:
  std::atomic<std::uint64_t> online_{0}, offline_{0};
  mutable std::mutex mutex_;
  std::deque<PresenceEvent> newest_;
};

}  // namespace rollcall::hooks
