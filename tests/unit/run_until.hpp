// Test helper, the one wait of the unit tests: runs an io_context until a
// condition holds, with a deadline.
#pragma once

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>

namespace rollcall::testing {

// Runs `ioc` until `done()` holds or `deadline` passes, checking at least
// every 10 ms (also for conditions another thread makes true); returns
// done(), so a timeout fails the caller's ASSERT. Returns early when the
// context has no work left (nothing can change any more).
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred done,
               std::chrono::steady_clock::duration deadline = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return false;
    if (ioc.stopped()) ioc.restart();
    const auto slice = std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(10));
    if (ioc.run_one_for(slice) == 0 && ioc.stopped()) return done();  // no work left
  }
  return true;
}

}  // namespace rollcall::testing
