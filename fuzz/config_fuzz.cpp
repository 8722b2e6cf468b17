// libFuzzer target: the configuration file parser. Any input either parses or
// throws ConfigError; every other exception, a crash or a sanitizer report is a
// bug. Also checks that a parsed config passes validate() and exercises glob_match.
#include "app/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace app = rollcall::app;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  try {
    const app::Config config = app::parse_config(in, "fuzz.toml");
    // parse_config runs every check validate() runs: they must agree.
    try {
      app::validate(config, "fuzz.toml");
    } catch (const app::ConfigError&) {
      check(false);
    }
    for (const auto& pattern : config.rooms.client_join) check(app::glob_match(pattern, pattern));
    check(app::parse_listen(config.server.listen).has_value());
  } catch (const app::ConfigError& e) {
    check(std::string_view(e.what()).starts_with("fuzz.toml"));
  }

  // glob_match: "pattern\ntext". A pattern without wildcards matches only itself;
  // "*" + pattern + "*" matches whatever pattern matches.
  const auto newline = in.find('\n');
  if (newline != std::string_view::npos) {
    const auto pattern = in.substr(0, newline);
    const auto text = in.substr(newline + 1);
    const bool match = app::glob_match(pattern, text);
    if (pattern.find_first_of("*?") == std::string_view::npos) check(match == (pattern == text));
    if (match) check(app::glob_match("*" + std::string(pattern) + "*", text));
  }
  check(app::glob_match("*", in));
  return 0;
}
