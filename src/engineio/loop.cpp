#include "engineio/loop.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>

namespace rollcall {

namespace {
thread_local Loop* t_current_loop = nullptr;
}

Loop* current_loop() noexcept { return t_current_loop; }
void set_current_loop(Loop* loop) noexcept { t_current_loop = loop; }

Loop::Loop(unsigned idx)
    : index(idx),
      read_buffer(64 * 1024),
      ping(make_text_frame('2', {})),
      noop(make_text_frame('6', {})),
      close(make_text_frame('1', {})),
      probe_reply(make_text_frame('3', "probe")) {}

void Loop::measure_lag() {
  lag_timer.expires_after(kLagTick);
  lag_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const auto late = std::chrono::steady_clock::now() - lag_timer.expiry();
    lag.observe(std::max(0.0, std::chrono::duration<double>(late).count()));
    measure_lag();
  });
}

void Loop::trim_heap_soon() {
  if (trim_armed) return;
  trim_armed = true;
  trim_timer.expires_after(std::chrono::seconds(1));
  trim_timer.async_wait([this](boost::system::error_code ec) {
    trim_armed = false;
    if (!ec) ::malloc_trim(0);
  });
}

}  // namespace rollcall
