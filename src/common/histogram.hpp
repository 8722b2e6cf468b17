// A fixed-bucket histogram safe to observe from one or many threads and to
// read from any (relaxed atomics: a snapshot may be mid-update, which
// monitoring tolerates).
#pragma once

#include <rollcall/stats.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace rollcall {

template <std::size_t N>
class Histogram {
 public:
  explicit Histogram(const std::array<double, N>& bounds) : bounds_(bounds) {}

  void observe(double value) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      if (value <= bounds_[i]) {
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    // The sum in microunits, so it stays an integer atomic.
    sum_micros_.fetch_add(static_cast<std::uint64_t>(value * 1e6 + 0.5), std::memory_order_relaxed);
  }

  // Adds this histogram's buckets into `into` (which has the same bounds, or none yet).
  void add_to(HistogramSnapshot& into) const {
    if (into.bounds.empty()) {
      into.bounds.assign(bounds_.begin(), bounds_.end());
      into.counts.assign(N, 0);
    }
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < N; ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      into.counts[i] += running;
    }
    into.count += count_.load(std::memory_order_relaxed);
    into.sum += static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  }

  HistogramSnapshot snapshot() const {
    HistogramSnapshot s;
    add_to(s);
    return s;
  }

 private:
  std::array<double, N> bounds_;
  std::array<std::atomic<std::uint64_t>, N> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

}  // namespace rollcall
