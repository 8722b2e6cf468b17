// Wall-clock time as the wire formats carry it.
#pragma once

#include <chrono>
#include <cstdint>

namespace rollcall {

// Milliseconds since the Unix epoch.
inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace rollcall
