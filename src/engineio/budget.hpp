// What one client connection may hold in memory, checked in one place.
//
// A connection holds bytes two ways: queued towards the client (`out`:
// messages, pongs, close frames) and buffered from it (`in`: an incomplete
// WebSocket frame or fragmented message, a binary packet waiting for its
// attachments). Every holder (the WebSocket connection, the polling queue,
// the Socket.IO client) reports what it holds through update(); the limits
// are checked and a refusal is logged here, and the holder closes the
// connection.
//
// Until the client is authenticated (a namespace CONNECT succeeded), both
// sides together count against a small per-connection limit and against
// a pool shared by every unauthenticated connection of the engine, so
// connections that never log in cannot hold much memory, alone or together.
// Afterwards `out` is limited by max_write_queue_bytes (a slow consumer is
// cut off) and `in` by what the protocol allows anyway: max_payload per
// message, for the packet header and each of its max_attachments.
#pragma once

#include "engineio/options.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rollcall::engineio {

// Bytes held by the unauthenticated connections of one engine (any thread).
struct BudgetPool {
  std::atomic<std::size_t> used{0};
};

class Budget {
 public:
  enum class Side : std::uint8_t { out, in };

  // `options`, `pool` and `owner` (the sid, for logs) outlive the budget.
  Budget(const Options& options, BudgetPool& pool, std::string_view owner) noexcept
      : options_(&options), pool_(&pool), owner_(owner) {}
  ~Budget();
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;

  // A holder's count of bytes on `side` goes from `held` to `now` (and
  // `held` is set to `now`). Returns false, after logging which limit was
  // passed, when the connection is now over budget: the caller closes it.
  [[nodiscard]] bool update(Side side, std::size_t& held, std::size_t now);
  [[nodiscard]] bool add(Side side, std::size_t& held, std::size_t n) {
    return update(side, held, held + n);
  }

  void release(Side side, std::size_t& held) noexcept { (void)update(side, held, 0); }

  // The client passed authentication: the small limits no longer apply.
  void authenticated() noexcept;
  bool is_authenticated() const noexcept { return authenticated_; }

  std::size_t out() const noexcept { return out_; }
  std::size_t peak() const noexcept { return peak_; }  // most held at once, both ways
  std::size_t in() const noexcept { return in_; }

  // Largest `in` of an authenticated connection: one packet header and its
  // attachments, each at most max_payload.

 private:
  bool over_budget(Side side);

  const Options* options_;
  BudgetPool* pool_;
  std::string_view owner_;
  std::size_t out_ = 0;
  std::size_t in_ = 0;
  std::size_t pooled_ = 0;  // what this connection put in the pool
  std::size_t peak_ = 0;
  bool authenticated_ = false;
  bool refused_ = false;  // logged once: the connection is going away
};

}  // namespace rollcall::engineio
