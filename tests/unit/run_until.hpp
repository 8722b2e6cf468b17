// Test helper: runs an io_context until a condition holds, with a deadline.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace rollcall::testing {

// Runs `ioc` one handler at a time until `done()` or the deadline; returns
// done(), so a timeout fails the caller's ASSERT.
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred done,
               std::chrono::steady_clock::duration deadline = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < end) {
    ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace rollcall::testing
