#include "engineio/heartbeat.hpp"

#include "engineio/session.hpp"

#include <algorithm>

namespace rollcall::engineio {

void HeartbeatWheel::schedule(const std::shared_ptr<Session>& session, std::uint32_t gen,
                              Clock::time_point due, Clock::duration slack) {
  heap_.push_back(Entry{due - slack, session, gen});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  if (heap_.front().earliest < armed_for_) arm();
}

void HeartbeatWheel::arm() {
  if (heap_.empty()) {
    armed_for_ = Clock::time_point::max();
    timer_.cancel();
    return;
  }
  armed_for_ = heap_.front().earliest;
  timer_.expires_at(armed_for_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) fire();
  });
}

void HeartbeatWheel::fire() {
  armed_for_ = Clock::time_point::max();
  auto now = Clock::now();
  // Collect first: a heartbeat handler schedules again (into the heap).
  std::vector<Entry> due;
  while (!heap_.empty() && heap_.front().earliest <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    due.push_back(std::move(heap_.back()));
    heap_.pop_back();
  }
  for (auto& e : due) {
    if (auto s = e.session.lock()) s->on_heartbeat(e.gen);
  }
  if (!heap_.empty() && heap_.front().earliest < armed_for_) arm();
  if (heap_.capacity() > 64 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
}

}  // namespace rollcall::engineio
