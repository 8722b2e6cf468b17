#include "engineio/budget.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace rollcall::engineio {

Budget::~Budget() {
  if (pooled_ > 0) pool_->used.fetch_sub(pooled_, std::memory_order_relaxed);
}

bool Budget::update(Side side, std::size_t& held, std::size_t now) {
  std::size_t& total = side == Side::out ? out_ : in_;
  const bool growing = now > held;
  total = total - held + now;
  if (!authenticated_) {
    // Counted in the pool while unauthenticated, with the same sign.
    if (growing) {
      pool_->used.fetch_add(now - held, std::memory_order_relaxed);
      pooled_ += now - held;
    } else {
      std::size_t back = std::min(held - now, pooled_);
      pool_->used.fetch_sub(back, std::memory_order_relaxed);
      pooled_ -= back;
    }
  }
  held = now;
  if (!growing) return true;
  peak_ = std::max(peak_, in_ + out_);
  return !over_budget(side);
}

bool Budget::over_budget(Side side) {
  const Options& o = *options_;
  const char* what = nullptr;
  std::size_t have = 0, limit = 0;
  if (!authenticated_) {
    if (in_ + out_ > o.max_unauthenticated_bytes) {
      what = "an unauthenticated connection holds {} bytes, above max_unauthenticated_bytes ({})";
      have = in_ + out_;
      limit = o.max_unauthenticated_bytes;
    } else if (std::size_t all = pool_->used.load(std::memory_order_relaxed);
               all > o.max_unauthenticated_total) {
      what = "unauthenticated connections hold {} bytes together, above max_unauthenticated_total ({})";
      have = all;
      limit = o.max_unauthenticated_total;
    }
  } else if (side == Side::out && out_ > o.max_write_queue_bytes) {
    what = "{} bytes queued for a client that does not read, above max_write_queue_bytes ({})";
    have = out_;
    limit = o.max_write_queue_bytes;
  } else if (side == Side::in && in_ > o.max_buffered_in) {
    what = "{} bytes buffered from the client, above max_payload x (max_attachments + 1) ({})";
    have = in_;
    limit = o.max_buffered_in;
  }
  if (!what) return false;
  if (!refused_) {
    refused_ = true;
    spdlog::warn("session {}: closing: {}", owner_,
                 fmt::format(fmt::runtime(what), have, limit));
  }
  return true;
}

void Budget::authenticated() noexcept {
  if (authenticated_) return;
  authenticated_ = true;
  if (pooled_ > 0) pool_->used.fetch_sub(pooled_, std::memory_order_relaxed);
  pooled_ = 0;
}

}  // namespace rollcall::engineio
