#include "app/log.hpp"

#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <chrono>
#include <cstdio>

namespace rollcall::app {

void append_json_string(std::string_view s, std::string& out) {
  const bool utf8 = valid_utf8(s);
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || (c >= 0x80 && !utf8)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
  std::string line = "{\"time\":\"" + format_rfc3339_ms(ms) + "\",\"level\":\"";
  auto level = spdlog::level::to_string_view(msg.level);
  line.append(level.data(), level.size());
  line += "\",\"logger\":\"";
  append_json_string(std::string_view(msg.logger_name.data(), msg.logger_name.size()), line);
  line += "\",\"thread\":" + std::to_string(msg.thread_id) + ",\"msg\":\"";
  append_json_string(std::string_view(msg.payload.data(), msg.payload.size()), line);
  line += "\"}\n";
  dest.append(line.data(), line.data() + line.size());
}

}  // namespace rollcall::app
