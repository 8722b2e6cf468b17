// rollcalld's log formats: spdlog's text lines, or (log.format = "json")
// one JSON object per line: {"time", "level", "logger", "thread", "msg"}.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace rollcall::app {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLogFormatter>(); }
};

// `s` as the inside of a JSON string: quotes, backslashes and control
// characters escaped; bytes of invalid UTF-8 as \u00XX (read as Latin-1),
// so a line is always valid JSON whatever a message holds.
void append_json_string(std::string_view s, std::string& out);

}  // namespace rollcall::app
