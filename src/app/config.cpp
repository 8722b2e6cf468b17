#include "app/config.hpp"

#include <rollcall/server.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

namespace rollcall::app {
namespace {

constexpr std::int64_t max_timer_ms = 2147483647;  // Node's largest timer, ~24.8 days
constexpr std::int64_t max_payload_bytes = 64 << 20;

using Reason = std::optional<std::string>;  // why a value is refused; nullopt = fine
using StringCheck = Reason (*)(std::string_view);

// A value as it may appear in a message: quoted, control bytes escaped, bounded.
std::string quote(std::string_view s) {
  constexpr std::size_t max = 200;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    if (ch < 0x20 || ch == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out += hex;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + (s.size() > max ? "...'" : "'");
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

struct Range {
  std::int64_t min, max;
  template <class T>
  Reason operator()(T v) const {
    if (std::cmp_less(v, min) || std::cmp_greater(v, max)) {
      return "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
             std::to_string(v);
    }
    return std::nullopt;
  }
};

// ---- per-value checks ------------------------------------------------------

Reason split_listen(std::string_view s, ListenAddress& out) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return "expected HOST:PORT (e.g. 127.0.0.1:3000 or [::1]:3000), got " + quote(s);
  }
  std::string_view host = s.substr(0, colon);
  const std::string_view port = s.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return "bad IPv6 address in " + quote(s) + ", write it as [::1]:3000";
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return "an IPv6 address needs brackets, e.g. [::1]:3000, got " + quote(s);
  }
  if (has_space_or_control(host) || host.find_first_of("[]/") != std::string_view::npos) {
    return "bad host in " + quote(s);
  }
  const bool digits = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  const unsigned long number = digits ? std::stoul(std::string(port)) : 0;
  if (!digits || number > 65535) return "bad port in " + quote(s) + " (expected 0-65535)";
  out = {std::string(host), static_cast<std::uint16_t>(number)};
  return std::nullopt;
}

Reason check_listen(std::string_view s) {
  ListenAddress ignored;
  return split_listen(s, ignored);
}

Reason not_empty(std::string_view s) {
  if (s.empty()) return "must not be empty";
  return std::nullopt;
}

Reason check_path(std::string_view s) {
  if (s.empty() || s.front() != '/') return "must start with '/', got " + quote(s);
  if (has_space_or_control(s)) return "must not contain spaces or control characters";
  return std::nullopt;
}

Reason check_jwt_algorithm(std::string_view s) {
  if (s == "HS256" || s == "RS256") return std::nullopt;
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "none") return "'none' is refused: tokens must be signed (use HS256 or RS256)";
  return "must be HS256 or RS256 (case-sensitive), got " + quote(s);
}

// URLs may carry credentials, so they are not echoed.
Reason check_redis_url(std::string_view s) {
  if (s.starts_with("redis://") || s.starts_with("rediss://")) return std::nullopt;
  return "must start with redis:// or rediss://";
}

Reason check_optional_redis_url(std::string_view s) {
  if (s.empty()) return std::nullopt;  // single node
  return check_redis_url(s);
}

// Part of Redis key and channel names: printable, no spaces.
Reason check_redis_name(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (has_space_or_control(s)) return "must not contain spaces or control characters";
  return std::nullopt;
}

// Shown in presence details and Redis keys; '#' separates the node id from
// its epoch there.
Reason check_node_id(std::string_view s) {
  if (s.empty()) return std::nullopt;  // generated
  if (s.size() > 64) return "must be at most 64 characters";
  for (unsigned char ch : s) {
    if (!(std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.')) {
      return "may only contain letters, digits, '-', '_' and '.', got " + quote(s);
    }
  }
  return std::nullopt;
}

Reason check_http_url(std::string_view s) {
  if (s.empty()) return std::nullopt;  // webhooks off
  std::string_view rest;
  if (s.starts_with("https://")) {
    rest = s.substr(8);
  } else if (s.starts_with("http://")) {
    rest = s.substr(7);
  } else {
    return "must start with http:// or https://";
  }
  if (rest.empty() || rest.find_first_of("/?#") == 0) return "has no host";
  if (has_space_or_control(s)) return "must not contain spaces or control characters";
  return std::nullopt;
}

Reason check_postgres_url(std::string_view s) {
  if (!s.starts_with("postgresql://") && !s.starts_with("postgres://")) {
    return "must start with postgresql:// (e.g. postgresql://user:password@127.0.0.1:5432/app)";
  }
  if (has_space_or_control(s)) return "must not contain spaces or control characters";
  return std::nullopt;
}

Reason check_optional_postgres_url(std::string_view s) {
  if (s.empty()) return std::nullopt;  // no PostgreSQL ingest
  return check_postgres_url(s);
}

Reason check_channel(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 63) return "longer than PostgreSQL's 63-byte identifiers";
  if (has_space_or_control(s)) return "must not contain spaces or control characters";
  return std::nullopt;
}

Reason check_store_url(std::string_view s) {
  if (s.empty()) return std::nullopt;  // derived from server.data_dir
  if (s.starts_with("sqlite:")) {
    if (s.size() == 7) return "sqlite: needs a path, e.g. sqlite:/var/lib/rollcall/rollcall.db";
    return std::nullopt;
  }
  if (s.starts_with("postgresql:") || s.starts_with("postgres:")) return check_postgres_url(s);
  const auto colon = s.find(':');
  const auto scheme = s.substr(0, colon == std::string_view::npos ? 0 : colon);
  const bool is_scheme = !scheme.empty() && std::isalpha(static_cast<unsigned char>(scheme[0])) &&
                         std::all_of(scheme.begin(), scheme.end(), [](unsigned char c) {
                           return std::isalnum(c) || c == '+' || c == '-' || c == '.';
                         });
  if (is_scheme) return "unsupported store scheme " + quote(s.substr(0, colon + 1)) + " (sqlite:PATH or postgresql://...)";
  return "expected sqlite:PATH or postgresql://..., got " + quote(s);
}

Reason check_api_key(std::string_view s) {
  if (!s.empty() && s.size() < 16) {
    return "too short: " + std::to_string(s.size()) + " characters, at least 16 required";
  }
  return std::nullopt;
}

Reason check_log_level(std::string_view s) {
  for (std::string_view level : {"trace", "debug", "info", "warn", "error"}) {
    if (s == level) return std::nullopt;
  }
  return "must be one of trace, debug, info, warn, error, got " + quote(s);
}

Reason check_log_format(std::string_view s) {
  if (s == "text" || s == "json") return std::nullopt;
  return "must be text or json, got " + quote(s);
}

Reason readable_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) return "cannot read " + quote(path) + ": " + ec.message();
  if (!std::filesystem::is_regular_file(status)) return quote(path) + " is not a regular file";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "cannot read " + quote(path) + ": " + std::strerror(errno);
  std::fclose(f);
  return std::nullopt;
}

// ---- the schema: every key, its type and its own check ---------------------

// V is a Reader (TOML -> Config) or a Checker (Config values); C is Config or
// const Config. Keys are registered in this order.
template <class C, class V>
void visit(C& c, V& v) {
  v.section("server");
  v.field("listen", c.server.listen, check_listen);
  v.field("threads", c.server.threads, Range{0, 255});
  v.field("path", c.server.path, check_path);
  v.field("cors_origins", c.server.cors_origins, not_empty);
  v.field("cors_credentials", c.server.cors_credentials);
  v.field("ping_interval_ms", c.server.ping_interval_ms, Range{1, max_timer_ms});
  v.field("ping_timeout_ms", c.server.ping_timeout_ms, Range{1, max_timer_ms});
  v.field("max_payload", c.server.max_payload, Range{1, max_payload_bytes});
  v.field("max_write_queue_bytes", c.server.max_write_queue_bytes, Range{1024, std::int64_t{1} << 30});
  v.field("max_unauthenticated_bytes", c.server.max_unauthenticated_bytes, Range{1024, std::int64_t{1} << 30});
  v.field("max_unauthenticated_total", c.server.max_unauthenticated_total, Range{1024, std::int64_t{1} << 40});
  v.field("recovery_ms", c.server.recovery_ms, Range{0, max_timer_ms});
  v.field("connect_timeout_ms", c.server.connect_timeout_ms, Range{1, max_timer_ms});
  v.field("data_dir", c.server.data_dir, not_empty);
  v.field("drain_ms", c.server.drain_ms, Range{0, max_timer_ms});

  v.section("auth");
  v.field("jwt_algorithm", c.auth.jwt_algorithm, check_jwt_algorithm);
  v.field("jwt_secret", c.auth.jwt_secret);
  v.field("jwt_public_key_file", c.auth.jwt_public_key_file);
  v.field("jwt_leeway_s", c.auth.jwt_leeway_s, Range{0, 3600});
  v.field("jwt_issuer", c.auth.jwt_issuer);
  v.field("jwt_audience", c.auth.jwt_audience);
  v.one_or_many("session_secret", c.auth.session_secrets, not_empty);
  v.field("session_cookie", c.auth.session_cookie, not_empty);
  v.field("session_redis_url", c.auth.session_redis_url, check_redis_url);
  v.field("session_prefix", c.auth.session_prefix);
  v.field("session_user_field", c.auth.session_user_field, not_empty);
  v.field("allow_anonymous", c.auth.allow_anonymous);

  v.section("presence");
  v.field("grace_ms", c.presence.grace_ms, Range{0, 3600000});

  v.section("webhooks");
  v.field("url", c.webhooks.url, check_http_url);
  v.field("secret", c.webhooks.secret);
  v.field("connect_timeout_ms", c.webhooks.connect_timeout_ms, Range{1, max_timer_ms});
  v.field("timeout_ms", c.webhooks.timeout_ms, Range{1, max_timer_ms});
  v.field("batch_max", c.webhooks.batch_max, Range{1, 10000});
  v.field("backoff_min_ms", c.webhooks.backoff_min_ms, Range{1, max_timer_ms});
  v.field("backoff_max_ms", c.webhooks.backoff_max_ms, Range{1, max_timer_ms});
  v.field("max_age_s", c.webhooks.max_age_s, Range{1, max_timer_ms / 1000});
  v.field("ca_file", c.webhooks.ca_file);

  v.section("store");
  v.field("url", c.store.url, check_store_url);

  v.section("api");
  v.field("key", c.api.key, check_api_key);
  v.field("max_body", c.api.max_body, Range{1, max_payload_bytes});

  v.section("admin");
  v.field("key", c.admin.key, check_api_key);

  v.section("metrics");
  v.field("enabled", c.metrics.enabled);

  v.section("rooms");
  v.field("client_join", c.rooms.client_join, not_empty);
  v.field("max_per_socket", c.rooms.max_per_socket, Range{1, 1000000});

  v.section("log");
  v.field("level", c.log.level, check_log_level);
  v.field("format", c.log.format, check_log_format);

  v.section("cluster");
  v.field("redis_url", c.cluster.redis_url, check_optional_redis_url);
  v.field("node_id", c.cluster.node_id, check_node_id);
  v.field("lease_ms", c.cluster.lease_ms, Range{100, max_timer_ms});
  v.field("adapter_key", c.cluster.adapter_key, check_redis_name);
  v.field("prefix", c.cluster.prefix, check_redis_name);
  v.field("requests_timeout_ms", c.cluster.requests_timeout_ms, Range{1, max_timer_ms});

  v.section("notifications");
  v.field("enabled", c.notifications.enabled);
  v.field("postgres_url", c.notifications.postgres_url, check_optional_postgres_url);
  v.field("channel", c.notifications.channel, check_channel);
  v.field("max_age_days", c.notifications.max_age_days, Range{1, 36500});
  v.field("max_per_user", c.notifications.max_per_user, Range{1, 1000000});
}

struct Position {
  std::uint32_t line = 0, column = 0;  // line 0: not in the file
};

struct Problem {
  Position at;
  std::string key;  // full dotted key
  std::string reason;
};

// Checks values already in a Config (no positions).
class Checker {
 public:
  std::vector<Problem> problems;

  void section(std::string_view name) { section_ = name; }
  void field(std::string_view key, const std::string& value, StringCheck check = nullptr) {
    if (check) report(full(key), check(value));
  }
  void field(std::string_view, bool) {}
  template <class T>
  void field(std::string_view key, T value, Range range) {
    report(full(key), range(value));
  }
  void field(std::string_view key, const std::vector<std::string>& values, StringCheck check) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      report(full(key) + "[" + std::to_string(i) + "]", check(values[i]));
    }
  }
  void one_or_many(std::string_view key, const std::vector<std::string>& values, StringCheck check) {
    field(key, values, check);
  }

 private:
  std::string full(std::string_view key) const { return section_ + "." + std::string(key); }
  void report(std::string key, Reason reason) {
    if (reason) problems.push_back({{}, std::move(key), std::move(*reason)});
  }
  std::string section_;
};

Position position_of(const toml::source_region& region) {
  return {region.begin.line, region.begin.column};
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

// Optimal string alignment distance: insertions, deletions, substitutions and
// swaps of adjacent characters cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The known key closest to `key`: at most 2 edits away, and no more edits than
// half its length (so "top" does not become "log").
std::optional<std::string> closest(std::string_view key, const std::vector<std::string>& known) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const auto& candidate : known) {
    const auto length_gap = key.size() > candidate.size() ? key.size() - candidate.size()
                                                           : candidate.size() - key.size();
    if (length_gap >= best_distance) continue;
    const auto d = edit_distance(key, candidate);
    if (d > 0 && d < best_distance && 2 * d <= key.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

// Reads a parsed TOML document into a Config, collecting every problem.
class Reader {
 public:
  explicit Reader(const toml::table& root) : root_(root) {}

  void section(std::string_view name) {
    close_section();
    section_ = std::string(name);
    sections_.push_back(section_);
    known_.push_back(section_);
    table_ = nullptr;
    if (const toml::node* n = root_.get(name)) {
      table_ = n->as_table();
      if (!table_) wrong_type(section_, *n, "a table");
    }
  }

  void field(std::string_view key, std::string& out, StringCheck check = nullptr) {
    const toml::node* n = find(key);
    if (!n) return;
    const auto* s = n->as_string();
    if (!s) return wrong_type(full(key), *n, "a string");
    out = s->get();
    if (check) report(*n, full(key), check(out));
  }

  void field(std::string_view key, bool& out) {
    const toml::node* n = find(key);
    if (!n) return;
    const auto* b = n->as_boolean();
    if (!b) return wrong_type(full(key), *n, "a boolean");
    out = b->get();
  }

  template <class T>
  void field(std::string_view key, T& out, Range range) {
    const toml::node* n = find(key);
    if (!n) return;
    const auto* i = n->as_integer();
    if (!i) return wrong_type(full(key), *n, "an integer");
    const std::int64_t value = i->get();
    if (auto reason = range(value)) return report(*n, full(key), std::move(reason));
    out = static_cast<T>(value);  // in range, hence representable
  }

  void field(std::string_view key, std::vector<std::string>& out, StringCheck check) {
    if (const toml::node* n = find(key)) read_strings(full(key), *n, out, check, "an array of strings");
  }

  // A string or an array of strings.
  void one_or_many(std::string_view key, std::vector<std::string>& out, StringCheck check) {
    const toml::node* n = find(key);
    if (!n) return;
    if (const auto* s = n->as_string()) {
      out = {s->get()};
      report(*n, full(key), check(out[0]));
    } else {
      read_strings(full(key), *n, out, check, "a string or an array of strings");
    }
  }

  // Every problem found, unknown keys included (with the closest known key).
  std::vector<Problem> finish() {
    close_section();
    for (auto&& [key, node] : root_) {
      if (std::find(sections_.begin(), sections_.end(), key.str()) == sections_.end()) {
        unknown_.push_back({position_of(key.source()), std::string(key.str()), "unknown key"});
      }
    }
    for (auto& p : unknown_) {
      if (auto hint = closest(p.key, known_)) p.reason += "; did you mean " + *hint + "?";
      problems_.push_back(std::move(p));
    }
    unknown_.clear();
    return std::move(problems_);
  }

 private:
  std::string full(std::string_view key) const { return section_ + "." + std::string(key); }

  const toml::node* find(std::string_view key) {
    asked_.emplace_back(key);
    known_.push_back(full(key));
    return table_ ? table_->get(key) : nullptr;
  }

  void close_section() {
    if (table_) {
      for (auto&& [key, node] : *table_) {
        if (std::find(asked_.begin(), asked_.end(), key.str()) == asked_.end()) {
          unknown_.push_back({position_of(key.source()), full(key.str()), "unknown key"});
        }
      }
    }
    asked_.clear();
  }

  void read_strings(const std::string& key, const toml::node& n, std::vector<std::string>& out,
                    StringCheck check, const char* expected) {
    const auto* array = n.as_array();
    if (!array) return wrong_type(key, n, expected);
    std::vector<std::string> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const auto* s = element.as_string();
      if (!s) {
        return report(element, key, std::string("expected ") + expected + ", got " + type_name(element) +
                                        " at index " + std::to_string(i));
      }
      values.push_back(s->get());
      report(element, key + "[" + std::to_string(i) + "]", check(values.back()));
    }
    out = std::move(values);
  }

  void wrong_type(const std::string& key, const toml::node& n, std::string_view expected) {
    report(n, key, "expected " + std::string(expected) + ", got " + type_name(n));
  }

  void report(const toml::node& n, std::string key, Reason reason) {
    if (reason) problems_.push_back({position_of(n.source()), std::move(key), std::move(*reason)});
  }

  const toml::table& root_;
  const toml::table* table_ = nullptr;  // current section, null when absent
  std::string section_;
  std::vector<std::string> asked_;     // keys of the current section
  std::vector<std::string> sections_;  // top-level tables
  std::vector<std::string> known_;     // every full key, for suggestions
  std::vector<Problem> unknown_;
  std::vector<Problem> problems_;
};

// Checks between keys. Positions are filled in by the caller when it can.
std::vector<Problem> cross_problems(const Config& c) {
  std::vector<Problem> out;
  auto add = [&out](std::string key, std::string reason) {
    out.push_back({{}, std::move(key), std::move(reason)});
  };
  const auto& auth = c.auth;
  if (auth.jwt_algorithm == "RS256") {
    if (auth.jwt_public_key_file.empty()) {
      add("auth.jwt_algorithm", "RS256 requires auth.jwt_public_key_file");
    } else if (auto reason = readable_file(auth.jwt_public_key_file)) {
      add("auth.jwt_public_key_file", *reason);
    }
  } else if (auth.jwt_algorithm == "HS256") {
    if (!auth.jwt_secret.empty() && auth.jwt_secret.size() < 16) {
      add("auth.jwt_secret", "too short for HS256: " + std::to_string(auth.jwt_secret.size()) +
                                 " bytes, at least 16 required");
    }
    if (!auth.jwt_public_key_file.empty()) {
      add("auth.jwt_public_key_file", "only used with RS256, but auth.jwt_algorithm is HS256");
    }
  }
  const auto& hooks = c.webhooks;
  if (!hooks.url.empty() && hooks.secret.empty()) {
    add("webhooks.url", "requires webhooks.secret (deliveries are signed with it)");
  }
  if (!hooks.ca_file.empty()) {
    if (auto reason = readable_file(hooks.ca_file)) add("webhooks.ca_file", *reason);
  }
  if (hooks.backoff_min_ms > hooks.backoff_max_ms) {
    add("webhooks.backoff_min_ms", "must not exceed webhooks.backoff_max_ms (" +
                                       std::to_string(hooks.backoff_max_ms) + "), got " +
                                       std::to_string(hooks.backoff_min_ms));
  }
  return out;
}

std::string format(const std::string& source, const Problem& p) {
  std::string out = source;
  if (p.at.line != 0) out += ":" + std::to_string(p.at.line) + ":" + std::to_string(p.at.column);
  return out + ": " + p.key + ": " + p.reason;
}

// Throws the problem that comes first in the file (those without a place last).
void throw_first(const std::vector<Problem>& problems, const std::string& source) {
  if (problems.empty()) return;
  auto order = [](const Problem& p) {
    return std::pair{p.at.line == 0 ? std::numeric_limits<std::uint32_t>::max() : p.at.line, p.at.column};
  };
  const auto first = std::min_element(problems.begin(), problems.end(),
                                       [&](const Problem& a, const Problem& b) { return order(a) < order(b); });
  throw ConfigError(format(source, *first));
}

}  // namespace

Config load_config(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buffer[16384];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  const int error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (error != 0) throw ConfigError(path + ": cannot read: " + std::strerror(error));
  return parse_config(text, path);
}

Config parse_config(std::string_view toml_text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw ConfigError(source_name + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
                      std::string(e.description()));
  }
  Config c;
  Reader reader(root);
  visit(c, reader);
  throw_first(reader.finish(), source_name);
  // Only on a fully read file: a key that failed to read would show as its default.
  auto problems = cross_problems(c);
  for (auto& p : problems) {
    if (const toml::node* n = root.at_path(p.key).node()) p.at = position_of(n->source());
  }
  throw_first(problems, source_name);
  return c;
}

namespace {

// Keys whose values are secrets: printed as "***" when set.
bool is_secret(std::string_view key) {
  return key == "auth.jwt_secret" || key == "auth.session_secret" || key == "webhooks.secret" || key == "api.key" ||
         key == "admin.key";
}

// Config -> TOML, every key of the schema, secrets masked.
class Printer {
 public:
  toml::table root;

  void section(std::string_view name) {
    section_ = std::string(name);
    root.insert_or_assign(section_, toml::table{});
    table_ = root.get_as<toml::table>(section_);
  }
  void field(std::string_view key, const std::string& value, StringCheck = nullptr) {
    table_->insert_or_assign(key, shown(key, value));
  }
  void field(std::string_view key, bool value) { table_->insert_or_assign(key, value); }
  template <class T>
  void field(std::string_view key, T value, Range) {
    table_->insert_or_assign(key, static_cast<std::int64_t>(value));
  }
  void field(std::string_view key, const std::vector<std::string>& values, StringCheck) {
    toml::array a;
    for (const auto& v : values) a.push_back(shown(key, v));
    table_->insert_or_assign(key, std::move(a));
  }
  void one_or_many(std::string_view key, const std::vector<std::string>& values, StringCheck check) {
    field(key, values, check);
  }

 private:
  std::string shown(std::string_view key, const std::string& value) const {
    if (value.empty()) return value;
    if (is_secret(section_ + "." + std::string(key))) return "***";
    return redact_url(value);
  }
  std::string section_;
  toml::table* table_ = nullptr;
};

// Sets every string key from ROLLCALL_<SECTION>_<KEY> when that variable
// is set (ROLLCALL_AUTH_JWT_SECRET for auth.jwt_secret).
class EnvReader {
 public:
  std::vector<std::string> applied;

  void section(std::string_view name) { section_ = std::string(name); }
  void field(std::string_view key, std::string& out, StringCheck = nullptr) {
    if (auto v = lookup(key)) out = *v;
  }
  void field(std::string_view, bool&) {}
  template <class T>
  void field(std::string_view, T&, Range) {}
  void field(std::string_view, std::vector<std::string>&, StringCheck) {}
  void one_or_many(std::string_view key, std::vector<std::string>& out, StringCheck) {
    if (auto v = lookup(key)) out = {*v};
  }

 private:
  std::optional<std::string> lookup(std::string_view key) {
    std::string name = env_name(section_, key);
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    applied.push_back(name);
    return std::string(v);
  }
  std::string section_;
};

}  // namespace

std::string env_name(std::string_view section, std::string_view key) {
  std::string name = "ROLLCALL_";
  for (char ch : std::string(section) + "_" + std::string(key)) {
    name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return name;
}

std::vector<std::string> apply_environment(Config& c) {
  EnvReader reader;
  visit(c, reader);
  return reader.applied;
}

std::string print_config(const Config& c) {
  Printer printer;
  visit(c, printer);
  std::ostringstream out;
  out << printer.root << "\n";
  return out.str();
}

void validate(const Config& c, const std::string& source_name) {
  Checker checker;
  visit(c, checker);
  auto problems = std::move(checker.problems);
  for (auto& p : cross_problems(c)) problems.push_back(std::move(p));
  if (!problems.empty()) throw ConfigError(format(source_name, problems.front()));
}

std::string store_url(const Config& c) {
  if (!c.store.url.empty()) return c.store.url;
  const std::string& dir = c.server.data_dir;
  return "sqlite:" + dir + (dir.ends_with('/') ? "" : "/") + "rollcall.db";
}

std::string presence_store_url(const Config& c) {
  std::string url = store_url(c);
  if (url.starts_with("sqlite:")) return url;
  const std::string& dir = c.server.data_dir;
  return "sqlite:" + dir + (dir.ends_with('/') ? "" : "/") + "rollcall.db";
}

std::string notifications_store_url(const Config& c) {
  std::string url = store_url(c);
  if (!url.starts_with("sqlite:")) return url;
  if (url.ends_with(".db")) url.resize(url.size() - 3);
  return url + "-notifications.db";
}

std::optional<ListenAddress> parse_listen(std::string_view listen) {
  ListenAddress out;
  if (split_listen(listen, out)) return std::nullopt;
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Greedy with backtracking to the last '*': O(pattern * text) at worst.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace rollcall::app
