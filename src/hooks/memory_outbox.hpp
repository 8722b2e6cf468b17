// In-memory Outbox: for tests and for running without a durable store (events
// are lost on restart, so this is not the at-least-once outbox of
// docs/webhooks.md). Not thread-safe: use it on one thread, like the store.
#pragma once

#include "hooks/outbox.hpp"
#include "common/clock.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rollcall::hooks {

class MemoryOutbox final : public Outbox {
 public:
  // Stores an event and returns its rowid (assigned in insertion order).
  // created_ms defaults to now when left at 0.
  std::int64_t enqueue(OutboxEvent event) {
    event.rowid = next_rowid_++;
    if (event.created_ms == 0) event.created_ms = unix_ms();
    const auto rowid = event.rowid;
    events_.emplace(rowid, std::move(event));
    return rowid;
  }

  std::vector<OutboxEvent> pending(std::size_t max) override {
    std::vector<OutboxEvent> out;
    for (auto it = events_.begin(); it != events_.end() && out.size() < max; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  void delivered(const std::vector<std::int64_t>& rowids) override {
    for (auto rowid : rowids) events_.erase(rowid);
  }

  void attempted(const std::vector<std::int64_t>& rowids) override {
    for (auto rowid : rowids) {
      if (auto it = events_.find(rowid); it != events_.end()) ++it->second.attempts;
    }
  }

  void dead_letter(const std::vector<std::int64_t>& rowids, const std::string& reason) override {
    const auto now = unix_ms();
    for (auto rowid : rowids) {
      auto it = events_.find(rowid);
      if (it == events_.end()) continue;
      dead_.push_back(DeadLetter{std::move(it->second), now, reason});
      events_.erase(it);
    }
  }

  std::vector<DeadLetter> dead(std::size_t max) override {
    std::vector<DeadLetter> out;
    for (auto it = dead_.rbegin(); it != dead_.rend() && out.size() < max; ++it) out.push_back(*it);
    return out;
  }

  OutboxCounts counts() override {
    OutboxCounts c;
    c.pending = events_.size();
    for (const auto& [rowid, e] : events_) c.retrying += e.attempts > 0 ? 1 : 0;
    c.dead = dead_.size();
    if (!events_.empty()) c.oldest = events_.begin()->second;
    return c;
  }

  std::size_t requeue_dead() override {
    const auto n = dead_.size();
    for (auto& d : dead_) {
      d.event.attempts = 0;
      d.event.created_ms = 0;
      enqueue(std::move(d.event));
    }
    dead_.clear();
    return n;
  }

  std::size_t size() const noexcept { return events_.size(); }
  bool empty() const noexcept { return events_.empty(); }

 private:
  std::map<std::int64_t, OutboxEvent> events_;  // by rowid = delivery order
  std::vector<DeadLetter> dead_;                // oldest first
  std::int64_t next_rowid_ = 1;
};

}  // namespace rollcall::hooks
