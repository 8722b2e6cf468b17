// rollcalld configuration file (TOML): the settings, their defaults, loading
// and validation. Keys and rules are documented in docs/configuration.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall::app {

struct Config {
  struct Server {
    std::string listen = "127.0.0.1:3000";
    unsigned threads = 0;  // 0 = number of cores
    std::string path = "/socket.io/";
    std::vector<std::string> cors_origins;
    bool cors_credentials = false;
    long ping_interval_ms = 25000, ping_timeout_ms = 20000;
    std::size_t max_payload = 1000000;
    std::size_t max_write_queue_bytes = 4 << 20;
    std::size_t max_unauthenticated_bytes = 64 << 10;
    std::size_t max_unauthenticated_total = 64 << 20;
    long recovery_ms = 0;  // 0 = connection state recovery off
    long connect_timeout_ms = 45000;
    std::string data_dir = "/var/lib/rollcall";
    long drain_ms = 10000;  // SIGTERM: how long connections get to go (docs/deployment.md)
  } server;
  struct Auth {
    std::string jwt_algorithm = "HS256";  // HS256 | RS256
    std::string jwt_secret;               // HS256; empty = no HS256 tokens accepted
    std::string jwt_public_key_file;      // RS256 (PEM)
    long jwt_leeway_s = 30;
    std::string jwt_issuer, jwt_audience;  // empty = not checked
    std::vector<std::string> session_secrets;  // TOML key session_secret: a string or an array
    std::string session_cookie = "connect.sid";
    std::string session_redis_url = "redis://127.0.0.1:6379/0";
    std::string session_prefix = "sess:";
    std::string session_user_field = "userId";
    bool allow_anonymous = false;
  } auth;
  struct Presence {
    long grace_ms = 5000;
  } presence;
  struct Webhooks {
    std::string url;  // empty = webhooks off
    std::string secret;
    long connect_timeout_ms = 5000, timeout_ms = 10000;
    std::size_t batch_max = 100;
    long backoff_min_ms = 500, backoff_max_ms = 60000;
    long max_age_s = 86400;
    std::string ca_file;
  } webhooks;
  struct Store {
    // "sqlite:PATH" or "postgresql://..." (notifications and memberships;
    // presence then stays in SQLite under data_dir); empty = store_url(config)
    // derives it from data_dir.
    std::string url;
  } store;
  struct Api {
    std::string key;  // empty = HTTP API off
    std::size_t max_body = 64 << 10;  // largest request body the API reads; 413 above
  } api;
  struct Admin {
    std::string key;  // empty = admin API, dashboard and admin namespace off
  } admin;
  struct Metrics {
    bool enabled = true;  // GET /metrics (Prometheus)
  } metrics;
  struct Rooms {
    std::vector<std::string> client_join;  // glob patterns ('*' and '?') of rooms clients may join themselves
    std::size_t max_per_socket = 1000;     // rooms a socket may join through room:join
  } rooms;
  struct Log {
    std::string level = "info";
    std::string format = "text";  // "json": one JSON object per line (app/log.hpp)
  } log;
  // docs/cluster.md. An empty redis_url: a single node (presence in the
  // SQLite store, no adapter).
  struct Cluster {
    std::string redis_url;
    std::string node_id;  // empty: generated per process start
    long lease_ms = 5000;
    std::string adapter_key = "socket.io";
    std::string prefix = "rollcall";
    long requests_timeout_ms = 5000;
  } cluster;
  // docs/notifications.md.
  struct Notifications {
    bool enabled = true;
    std::string postgres_url;  // empty: no LISTEN/outbox ingest
    std::string channel = "rollcall";
    long max_age_days = 90;
    std::size_t max_per_user = 1000;
  } notifications;
};

// Thrown for any problem; what() is "<file>:<line>:<col>: <key>: <reason>",
// "<file>:<line>:<col>: <reason>" (TOML syntax) or "<file>: <key>: <reason>"
// when the problem has no place in the file (a missing key, a CLI override).
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads and parses the file, then validates it (see parse_config).
Config load_config(const std::string& path);

// Parses TOML text: syntax, unknown keys, types, per-key ranges, then the
// cross-key checks of validate(). The first problem in file order is thrown.
Config parse_config(std::string_view toml_text, const std::string& source_name);

// Every value and cross-key check (e.g. after command-line overrides), including
// that auth.jwt_public_key_file (RS256) and webhooks.ca_file are readable files.
void validate(const Config& c, const std::string& source_name);

// The environment variable that overrides a string key:
// ROLLCALL_<SECTION>_<KEY>, upper case ("auth", "jwt_secret" ->
// ROLLCALL_AUTH_JWT_SECRET).
std::string env_name(std::string_view section, std::string_view key);
// Sets every string key whose variable is set (an array key such as
// auth.session_secret becomes that one value); returns the variables used.
// Applied after the file and before the command-line flags.
std::vector<std::string> apply_environment(Config& c);

// The effective configuration as TOML, every key of every table, secrets
// (auth.jwt_secret, auth.session_secret, webhooks.secret, api.key, admin.key) shown
// as "***" and the passwords of URLs masked (rollcalld --print-config).
std::string print_config(const Config& c);

// store.url, or "sqlite:" + server.data_dir + "/rollcall.db" when it is empty.
std::string store_url(const Config& c);
// Where presence keeps its state on a single node: store_url() when it is
// SQLite, else the SQLite file under server.data_dir.
std::string presence_store_url(const Config& c);
// Where notifications and memberships are kept: store_url() when it is
// PostgreSQL; else a SQLite file next to presence's (presence holds its
// file exclusively): ".../rollcall.db" -> ".../rollcall-notifications.db".
std::string notifications_store_url(const Config& c);

// server.listen split into host and port: "127.0.0.1:3000", "[::1]:3000"
// (host "::1"), "localhost:0". nullopt when malformed.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<ListenAddress> parse_listen(std::string_view listen);

// '*' matches any run of bytes (also empty), '?' exactly one byte; everything
// else matches itself. The whole text must match.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace rollcall::app
