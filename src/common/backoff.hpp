// Capped exponential backoff with jitter, for reconnecting (Redis, PostgreSQL): after
// n failed attempts in a row the next one waits initial * 2^(n-1), at most
// `max`, times a random factor in [0.8, 1.2] (so that nodes which lost Redis
// together do not come back in lockstep; the jittered delay may exceed `max`
// by up to 20 %). An `initial` of zero or less gives no delay at all.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace rollcall {

class Backoff {
 public:
  static constexpr double kJitter = 0.2;

  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          std::uint_fast32_t seed = std::random_device{}())
      : initial_(initial), max_(std::max(initial, max)), rng_(seed) {}

  // The unjittered delay after `failures` failed attempts in a row (0 for 0).
  std::chrono::milliseconds base(unsigned failures) const noexcept {
    if (failures == 0 || initial_.count() <= 0) return std::chrono::milliseconds{0};
    auto d = initial_;
    for (unsigned i = 1; i < failures && d < max_; ++i) d *= 2;
    return std::min(d, max_);
  }

  // base(failures), jittered.
  std::chrono::milliseconds delay(unsigned failures) {
    const auto b = base(failures);
    if (b.count() == 0) return b;
    std::uniform_real_distribution<double> factor(1.0 - kJitter, 1.0 + kJitter);
    return std::chrono::milliseconds{static_cast<std::int64_t>(static_cast<double>(b.count()) * factor(rng_))};
  }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::minstd_rand rng_;
};

}  // namespace rollcall
