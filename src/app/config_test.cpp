#include "app/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace rollcall::app {
namespace {

namespace fs = std::filesystem;
// EXPECT_TRUE(contains(text, part)) prints both on failure.
::testing::AssertionResult contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// what() of the ConfigError parse_config throws, or "" when the text is valid.
std::string error_of(std::string_view toml) {
  try {
    parse_config(toml, "test.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string validate_error(const Config& c) {
  try {
    validate(c, "cli");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A file under a fresh temporary directory, removed with the fixture.
class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("rollcall-config-test-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, std::string_view content) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

constexpr std::string_view secret32 = "0123456789abcdef0123456789abcdef";

// ---- valid files -------------------------------------------------------------

TEST(Config, EmptyFileGivesDefaults) {
  for (std::string_view text : {"", "\n", "# only a comment\n", "[server]\n[auth]\n[log]\n"}) {
    const Config c = parse_config(text, "empty.toml");
    EXPECT_EQ(c.server.listen, "127.0.0.1:3000");
    EXPECT_EQ(c.server.threads, 0u);
    EXPECT_EQ(c.server.path, "/socket.io/");
    EXPECT_TRUE(c.server.cors_origins.empty());
    EXPECT_FALSE(c.server.cors_credentials);
    EXPECT_EQ(c.server.ping_interval_ms, 25000);
    EXPECT_EQ(c.server.ping_timeout_ms, 20000);
    EXPECT_EQ(c.server.max_payload, 1000000u);
    EXPECT_EQ(c.server.recovery_ms, 0);
    EXPECT_EQ(c.server.connect_timeout_ms, 45000);
    EXPECT_EQ(c.server.data_dir, "/var/lib/rollcall");
    EXPECT_EQ(c.auth.jwt_algorithm, "HS256");
    EXPECT_EQ(c.auth.jwt_secret, "");
    EXPECT_EQ(c.auth.jwt_leeway_s, 30);
    EXPECT_TRUE(c.auth.session_secrets.empty());
    EXPECT_EQ(c.auth.session_cookie, "connect.sid");
    EXPECT_EQ(c.auth.session_redis_url, "redis://127.0.0.1:6379/0");
    EXPECT_EQ(c.auth.session_prefix, "sess:");
    EXPECT_EQ(c.auth.session_user_field, "userId");
    EXPECT_FALSE(c.auth.allow_anonymous);
    EXPECT_EQ(c.presence.grace_ms, 5000);
    EXPECT_EQ(c.webhooks.url, "");
    EXPECT_EQ(c.webhooks.connect_timeout_ms, 5000);
    EXPECT_EQ(c.webhooks.timeout_ms, 10000);
    EXPECT_EQ(c.webhooks.batch_max, 100u);
    EXPECT_EQ(c.webhooks.backoff_min_ms, 500);
    EXPECT_EQ(c.webhooks.backoff_max_ms, 60000);
    EXPECT_EQ(c.webhooks.max_age_s, 86400);
    EXPECT_EQ(c.store.url, "");
    EXPECT_EQ(store_url(c), "sqlite:/var/lib/rollcall/rollcall.db");
    EXPECT_EQ(c.api.key, "");
    EXPECT_EQ(c.api.max_body, 65536u);
    EXPECT_EQ(c.server.max_write_queue_bytes, 4u << 20);
    EXPECT_EQ(c.server.max_unauthenticated_bytes, 64u << 10);
    EXPECT_EQ(c.server.max_unauthenticated_total, 64u << 20);
    EXPECT_EQ(c.rooms.max_per_socket, 1000u);
    EXPECT_TRUE(c.rooms.client_join.empty());
    EXPECT_EQ(c.log.level, "info");
    EXPECT_NO_THROW(validate(c, "empty.toml"));
  }
}

TEST(Config, FullFile) {
  TempDir dir;
  const std::string ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string text = R"(
[server]
listen = "[::1]:8080"
threads = 4
path = "/rt/"
cors_origins = ["https://app.example.com", "https://admin.example.com"]
cors_credentials = true
ping_interval_ms = 10000
ping_timeout_ms = 5000
max_payload = 2_000_000
recovery_ms = 120000
connect_timeout_ms = 30000
data_dir = "/srv/rollcall"

[auth]
jwt_algorithm = "HS256"
jwt_secret = "0123456789abcdef0123456789abcdef"
jwt_leeway_s = 10
jwt_issuer = "https://auth.example.com"
jwt_audience = "rollcall"
session_secret = ["new secret", "old secret"]
session_cookie = "sid"
session_redis_url = "redis://redis:6379/2"
session_prefix = "s:"
session_user_field = "user_id"
allow_anonymous = true

[presence]
grace_ms = 15000

[webhooks]
url = "https://hooks.example.com/rollcall"
secret = "whsec"
connect_timeout_ms = 1000
timeout_ms = 2000
batch_max = 50
backoff_min_ms = 100
backoff_max_ms = 1000
max_age_s = 3600
ca_file = ")" + ca + R"("

[store]
url = "sqlite:/tmp/presence.db"

[api]
key = "api-key-0123456789"
max_body = 131072

[rooms]
client_join = ["public:*", "team-?"]

[log]
level = "debug"
)";
  const Config c = parse_config(text, "full.toml");
  EXPECT_EQ(c.server.listen, "[::1]:8080");
  EXPECT_EQ(c.server.threads, 4u);
  EXPECT_EQ(c.server.path, "/rt/");
  EXPECT_EQ(c.server.cors_origins,
            (std::vector<std::string>{"https://app.example.com", "https://admin.example.com"}));
  EXPECT_TRUE(c.server.cors_credentials);
  EXPECT_EQ(c.server.ping_interval_ms, 10000);
  EXPECT_EQ(c.server.ping_timeout_ms, 5000);
  EXPECT_EQ(c.server.max_payload, 2000000u);
  EXPECT_EQ(c.server.recovery_ms, 120000);
  EXPECT_EQ(c.server.connect_timeout_ms, 30000);
  EXPECT_EQ(c.server.data_dir, "/srv/rollcall");
  EXPECT_EQ(c.auth.jwt_algorithm, "HS256");
  EXPECT_EQ(c.auth.jwt_secret, secret32);
  EXPECT_EQ(c.auth.jwt_leeway_s, 10);
  EXPECT_EQ(c.auth.jwt_issuer, "https://auth.example.com");
  EXPECT_EQ(c.auth.jwt_audience, "rollcall");
  EXPECT_EQ(c.auth.session_secrets, (std::vector<std::string>{"new secret", "old secret"}));
  EXPECT_EQ(c.auth.session_cookie, "sid");
  EXPECT_EQ(c.auth.session_redis_url, "redis://redis:6379/2");
  EXPECT_EQ(c.auth.session_prefix, "s:");
  EXPECT_EQ(c.auth.session_user_field, "user_id");
  EXPECT_TRUE(c.auth.allow_anonymous);
  EXPECT_EQ(c.presence.grace_ms, 15000);
  EXPECT_EQ(c.webhooks.url, "https://hooks.example.com/rollcall");
  EXPECT_EQ(c.webhooks.secret, "whsec");
  EXPECT_EQ(c.webhooks.connect_timeout_ms, 1000);
  EXPECT_EQ(c.webhooks.timeout_ms, 2000);
  EXPECT_EQ(c.webhooks.batch_max, 50u);
  EXPECT_EQ(c.webhooks.backoff_min_ms, 100);
  EXPECT_EQ(c.webhooks.backoff_max_ms, 1000);
  EXPECT_EQ(c.webhooks.max_age_s, 3600);
  EXPECT_EQ(c.webhooks.ca_file, ca);
  EXPECT_EQ(c.store.url, "sqlite:/tmp/presence.db");
  EXPECT_EQ(store_url(c), "sqlite:/tmp/presence.db");
  EXPECT_EQ(c.api.key, "api-key-0123456789");
  EXPECT_EQ(c.api.max_body, 131072u);
  EXPECT_EQ(c.rooms.client_join, (std::vector<std::string>{"public:*", "team-?"}));
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_NO_THROW(validate(c, "full.toml"));
}

TEST(Config, InlineTablesAndDottedKeys) {
  const Config c = parse_config("server = { threads = 2 }\nlog.level = \"warn\"\n", "t.toml");
  EXPECT_EQ(c.server.threads, 2u);
  EXPECT_EQ(c.log.level, "warn");
}

TEST(Config, SessionSecretIsAStringOrAnArray) {
  EXPECT_EQ(parse_config("[auth]\nsession_secret = \"one\"", "t").auth.session_secrets,
            std::vector<std::string>{"one"});
  EXPECT_EQ(parse_config("[auth]\nsession_secret = [\"a\", \"b\"]", "t").auth.session_secrets,
            (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(parse_config("[auth]\nsession_secret = []", "t").auth.session_secrets.empty());
  const auto e = error_of("[auth]\nsession_secret = 7");
  EXPECT_TRUE(contains(e, "test.toml:2:18: auth.session_secret: expected a string or an array of strings, got integer"));
  EXPECT_TRUE(contains(error_of("[auth]\nsession_secret = \"\""), "auth.session_secret: must not be empty"));
}

TEST(Config, Rs256WithReadableKeyFile) {
  TempDir dir;
  const std::string key = dir.write("key.pem", "-----BEGIN PUBLIC KEY-----\n");
  const Config c =
      parse_config("[auth]\njwt_algorithm = \"RS256\"\njwt_public_key_file = \"" + key + "\"\n", "t.toml");
  EXPECT_EQ(c.auth.jwt_algorithm, "RS256");
  EXPECT_EQ(c.auth.jwt_public_key_file, key);
}

TEST(Config, ListenForms) {
  for (std::string_view listen : {"127.0.0.1:3000", "0.0.0.0:0", "[::1]:3000", "[::]:65535", "localhost:80"}) {
    EXPECT_EQ(error_of("[server]\nlisten = \"" + std::string(listen) + "\""), "") << listen;
  }
  auto hp = parse_listen("[::1]:3000");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 3000);
  hp = parse_listen("127.0.0.1:0");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 0);
  for (std::string_view bad : {"", "3000", ":3000", "host:", "host:65536", "host:-1", "host:12a", "::1:3000",
                               "[::1:3000", "[]:3000", "a b:1", "host:000001"}) {
    EXPECT_FALSE(parse_listen(bad)) << bad;
  }
}

TEST(Config, LoadConfigReadsTheFile) {
  TempDir dir;
  const std::string file = dir.write("rollcall.toml", "[server]\nthreads = 3\n");
  EXPECT_EQ(load_config(file).server.threads, 3u);

  const std::string bad = dir.write("bad.toml", "\n[server]\nthreads = \"3\"\n");
  try {
    load_config(bad);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), bad + ":3:11: server.threads: expected an integer, got string");
  }
}

TEST(Config, LoadConfigMissingFile) {
  try {
    load_config("/nonexistent/rollcall.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/rollcall.toml: cannot read: No such file or directory");
  }
}

// ---- syntax -------------------------------------------------------------------

TEST(ConfigErrors, SyntaxErrorHasLineAndColumn) {
  const auto e = error_of("[server]\nlisten = \"127.0.0.1:3000\"\nthreads = = 4\n");
  EXPECT_TRUE(contains(e, "test.toml:3:"));
  EXPECT_NE(e.find("test.toml:3:11: "), std::string::npos) << e;

  EXPECT_TRUE(contains(error_of("[server\n"), "test.toml:1:8: "));
  EXPECT_TRUE(contains(error_of("a = 1\na = 2\n"), "test.toml:2:"));  // redefinition
  EXPECT_TRUE(contains(error_of("x = \"unterminated\n"), "test.toml:1:"));
}

// Inputs that break invariants of toml++ 3.3's parser (upstream issues 190, 294,
// 295): the packaged library must still report them as syntax errors.
TEST(ConfigErrors, MalformedInputsKnownToUpsetTomlpp) {
  using namespace std::string_view_literals;
  for (std::string_view text : {"[\x01\x00\x00:server\n"sv, "[[[1]]]\n"sv, "[&\n"sv, "[[=\n"sv,
                                "a = 1\xd1\x83\n"sv, "a = { b = 1\xe2\xb5\x90 }\n"sv,
                                "s = \"\"\"\\\n\xc2\xa7\"\"\"\n"sv}) {
    EXPECT_TRUE(contains(error_of(text), "test.toml:1:")) << text;
  }
}

// ---- unknown keys ---------------------------------------------------------------

TEST(ConfigErrors, UnknownKeysWithSuggestion) {
  EXPECT_EQ(error_of("[webhooks]\nurll = \"https://x\"\n"),
            "test.toml:2:1: webhooks.urll: unknown key; did you mean webhooks.url?");
  EXPECT_EQ(error_of("[servr]\nlisten = \"x:1\"\n"), "test.toml:1:2: servr: unknown key; did you mean server?");
  EXPECT_EQ(error_of("[auth]\nsession_secrets = [\"a\"]\n"),
            "test.toml:2:1: auth.session_secrets: unknown key; did you mean auth.session_secret?");
  EXPECT_EQ(error_of("[log]\nlvl = \"info\"\n"), "test.toml:2:1: log.lvl: unknown key; did you mean log.level?");
  EXPECT_EQ(error_of("[lgo]\n"), "test.toml:1:2: lgo: unknown key; did you mean log?");  // a swap is one edit
  EXPECT_EQ(error_of("[Server]\n"), "test.toml:1:2: Server: unknown key; did you mean server?");
}

TEST(Config, ClusterTable) {
  auto c = parse_config("[cluster]\nredis_url = \"redis://127.0.0.1:6379/0\"\nnode_id = \"node-a\"\n"
                        "lease_ms = 2000\nadapter_key = \"sio\"\nprefix = \"rc\"\n",
                        "test.toml");
  EXPECT_EQ(c.cluster.redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.cluster.node_id, "node-a");
  EXPECT_EQ(c.cluster.lease_ms, 2000);
  EXPECT_EQ(c.cluster.adapter_key, "sio");
  EXPECT_EQ(c.cluster.prefix, "rc");
  Config d;  // defaults: a single node
  EXPECT_EQ(d.cluster.redis_url, "");
  EXPECT_EQ(d.cluster.lease_ms, 5000);
  EXPECT_EQ(d.cluster.adapter_key, "socket.io");
  EXPECT_EQ(d.cluster.prefix, "rollcall");
  EXPECT_EQ(error_of("[cluster]\nredis_url = \"http://x\"\n"),
            "test.toml:2:13: cluster.redis_url: must start with redis:// or rediss://");
  EXPECT_EQ(error_of("[cluster]\nnode_id = \"a#1\"\n"),
            "test.toml:2:11: cluster.node_id: may only contain letters, digits, '-', '_' and '.', got 'a#1'");
  EXPECT_EQ(error_of("[cluster]\nlease_ms = 10\n"),
            "test.toml:2:12: cluster.lease_ms: must be between 100 and 2147483647, got 10");
  EXPECT_EQ(error_of("[cluster]\nprefix = \"\"\n"), "test.toml:2:10: cluster.prefix: must not be empty");
}

TEST(ConfigErrors, UnknownKeysWithoutSuggestion) {
  EXPECT_EQ(error_of("[server]\ncompletely_unknown = 1\n"), "test.toml:2:1: server.completely_unknown: unknown key");
  EXPECT_EQ(error_of("[clustre_x]\nnodes = 3\n"), "test.toml:1:2: clustre_x: unknown key");
  EXPECT_EQ(error_of("[cluster]\nnodes = 3\n"), "test.toml:2:1: cluster.nodes: unknown key");
  EXPECT_EQ(error_of("top = 1\n"), "test.toml:1:1: top: unknown key");
  // A nested table is one unknown key.
  EXPECT_EQ(error_of("[server.tls]\ncert = \"x\"\n"), "test.toml:1:9: server.tls: unknown key");
}

TEST(ConfigErrors, FirstProblemInTheFileIsReported) {
  EXPECT_EQ(error_of("[server]\nthreads = 999\n[log]\nlevel = \"loud\"\n"),
            "test.toml:2:11: server.threads: must be between 0 and 255, got 999");
  // Sections are read in schema order, but the file order decides.
  EXPECT_EQ(error_of("[log]\nlevl = \"x\"\n[server]\nthreads = 999\n"),
            "test.toml:2:1: log.levl: unknown key; did you mean log.level?");
}

// ---- types --------------------------------------------------------------------

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(error_of("[server]\nlisten = 3000\n"), "test.toml:2:10: server.listen: expected a string, got integer");
  EXPECT_EQ(error_of("[server]\nthreads = \"4\"\n"), "test.toml:2:11: server.threads: expected an integer, got string");
  EXPECT_EQ(error_of("[server]\nthreads = 4.0\n"), "test.toml:2:11: server.threads: expected an integer, got float");
  EXPECT_EQ(error_of("[server]\ncors_credentials = \"yes\"\n"),
            "test.toml:2:20: server.cors_credentials: expected a boolean, got string");
  EXPECT_EQ(error_of("[server]\ncors_origins = \"*\"\n"),
            "test.toml:2:16: server.cors_origins: expected an array of strings, got string");
  EXPECT_EQ(error_of("[server]\ncors_origins = [\"a\", 1]\n"),
            "test.toml:2:22: server.cors_origins: expected an array of strings, got integer at index 1");
  EXPECT_EQ(error_of("server = 1\n"), "test.toml:1:10: server: expected a table, got integer");
  EXPECT_EQ(error_of("[[server]]\n"), "test.toml:1:1: server: expected a table, got array");
  EXPECT_TRUE(contains(error_of("[presence]\ngrace_ms = 1979-05-27\n"), "presence.grace_ms: expected an integer, got date"));
}

// ---- values -------------------------------------------------------------------

struct BadValue {
  std::string_view toml;
  std::string_view expected;  // "<key>: <reason>" part of the message
};

TEST(ConfigErrors, ValuesOutOfRange) {
  const BadValue cases[] = {
      {"[server]\nlisten = \"127.0.0.1:99999\"", "server.listen: bad port in '127.0.0.1:99999' (expected 0-65535)"},
      {"[server]\nlisten = \"localhost\"", "server.listen: expected HOST:PORT"},
      {"[server]\nlisten = \"::1:3000\"", "server.listen: an IPv6 address needs brackets, e.g. [::1]:3000"},
      {"[server]\nthreads = 256", "server.threads: must be between 0 and 255, got 256"},
      {"[server]\nthreads = -1", "server.threads: must be between 0 and 255, got -1"},
      {"[server]\npath = \"socket.io\"", "server.path: must start with '/', got 'socket.io'"},
      {"[server]\nping_interval_ms = 0", "server.ping_interval_ms: must be between 1 and 2147483647, got 0"},
      {"[server]\nping_timeout_ms = -5", "server.ping_timeout_ms: must be between 1 and 2147483647, got -5"},
      {"[server]\nmax_payload = 0", "server.max_payload: must be between 1 and 67108864, got 0"},
      {"[server]\nmax_payload = 67108865", "server.max_payload: must be between 1 and 67108864, got 67108865"},
      {"[server]\nrecovery_ms = -1", "server.recovery_ms: must be between 0 and 2147483647, got -1"},
      {"[server]\nconnect_timeout_ms = 0", "server.connect_timeout_ms: must be between 1 and 2147483647, got 0"},
      {"[server]\ncors_origins = [\"\"]", "server.cors_origins[0]: must not be empty"},
      {"[server]\ndata_dir = \"\"", "server.data_dir: must not be empty"},
      {"[presence]\ngrace_ms = 3600001", "presence.grace_ms: must be between 0 and 3600000, got 3600001"},
      {"[presence]\ngrace_ms = -1", "presence.grace_ms: must be between 0 and 3600000, got -1"},
      {"[auth]\njwt_algorithm = \"none\"", "auth.jwt_algorithm: 'none' is refused: tokens must be signed"},
      {"[auth]\njwt_algorithm = \"None\"", "auth.jwt_algorithm: 'none' is refused"},
      {"[auth]\njwt_algorithm = \"hs256\"", "auth.jwt_algorithm: must be HS256 or RS256 (case-sensitive), got 'hs256'"},
      {"[auth]\njwt_algorithm = \"ES256\"", "auth.jwt_algorithm: must be HS256 or RS256 (case-sensitive), got 'ES256'"},
      {"[auth]\njwt_leeway_s = -1", "auth.jwt_leeway_s: must be between 0 and 3600, got -1"},
      {"[auth]\nsession_cookie = \"\"", "auth.session_cookie: must not be empty"},
      {"[auth]\nsession_redis_url = \"http://x\"", "auth.session_redis_url: must start with redis:// or rediss://"},
      {"[webhooks]\nurl = \"ftp://x\"\nsecret = \"s\"", "webhooks.url: must start with http:// or https://"},
      {"[webhooks]\nurl = \"https://\"\nsecret = \"s\"", "webhooks.url: has no host"},
      {"[webhooks]\nurl = \"https://a b\"\nsecret = \"s\"", "webhooks.url: must not contain spaces"},
      {"[webhooks]\nbatch_max = 0", "webhooks.batch_max: must be between 1 and 10000, got 0"},
      {"[webhooks]\ntimeout_ms = 0", "webhooks.timeout_ms: must be between 1 and 2147483647, got 0"},
      {"[webhooks]\nmax_age_s = 0", "webhooks.max_age_s: must be between 1 and 2147483, got 0"},
      {"[store]\nurl = \"redis://localhost\"", "store.url: unsupported store scheme 'redis:' (sqlite:PATH or postgresql://...)"},
      {"[store]\nurl = \"postgresql:db/x\"", "store.url: must start with postgresql:// (e.g. postgresql://user:password@127.0.0.1:5432/app)"},
      {"[notifications]\npostgres_url = \"mysql://x\"", "notifications.postgres_url: must start with postgresql:// (e.g. postgresql://user:password@127.0.0.1:5432/app)"},
      {"[notifications]\nchannel = \"\"", "notifications.channel: must not be empty"},
      {"[notifications]\nmax_per_user = 0", "notifications.max_per_user: must be between 1 and 1000000"},
      {"[store]\nurl = \"sqlite:\"", "store.url: sqlite: needs a path"},
      {"[store]\nurl = \"/var/lib/x.db\"", "store.url: expected sqlite:PATH or postgresql://..., got '/var/lib/x.db'"},
      {"[api]\nkey = \"short\"", "api.key: too short: 5 characters, at least 16 required"},
      {"[api]\nmax_body = 0", "api.max_body: must be between 1 and 67108864, got 0"},
      {"[server]\nmax_write_queue_bytes = 1023",
       "server.max_write_queue_bytes: must be between 1024 and 1073741824, got 1023"},
      {"[server]\nmax_unauthenticated_bytes = 0",
       "server.max_unauthenticated_bytes: must be between 1024 and 1073741824, got 0"},
      {"[server]\nmax_unauthenticated_total = 100",
       "server.max_unauthenticated_total: must be between 1024 and 1099511627776, got 100"},
      {"[rooms]\nmax_per_socket = 0", "rooms.max_per_socket: must be between 1 and 1000000, got 0"},
      {"[api]\nmax_body = 67108865", "api.max_body: must be between 1 and 67108864, got 67108865"},
      {"[rooms]\nclient_join = [\"a*\", \"\"]", "rooms.client_join[1]: must not be empty"},
      {"[log]\nlevel = \"verbose\"", "log.level: must be one of trace, debug, info, warn, error, got 'verbose'"},
      {"[log]\nlevel = \"INFO\"", "log.level: must be one of trace, debug, info, warn, error, got 'INFO'"},
  };
  for (const auto& c : cases) {
    const auto e = error_of(c.toml);
    EXPECT_TRUE(contains(e, "test.toml:2:")) << c.toml;
    EXPECT_TRUE(contains(e, c.expected)) << c.toml;
  }
}

TEST(ConfigErrors, CrossKeyChecks) {
  TempDir dir;
  const BadValue cases[] = {
      {"[auth]\njwt_algorithm = \"RS256\"", "test.toml:2:17: auth.jwt_algorithm: RS256 requires auth.jwt_public_key_file"},
      {"[auth]\njwt_algorithm = \"RS256\"\njwt_public_key_file = \"/nonexistent/key.pem\"",
       "test.toml:3:23: auth.jwt_public_key_file: cannot read '/nonexistent/key.pem': No such file or directory"},
      {"[auth]\njwt_secret = \"short\"", "test.toml:2:14: auth.jwt_secret: too short for HS256: 5 bytes, at least 16 required"},
      {"[auth]\njwt_public_key_file = \"/etc/key.pem\"",
       "test.toml:2:23: auth.jwt_public_key_file: only used with RS256, but auth.jwt_algorithm is HS256"},
      {"[webhooks]\nurl = \"https://hooks.example.com\"",
       "test.toml:2:7: webhooks.url: requires webhooks.secret (deliveries are signed with it)"},
      {"[webhooks]\nbackoff_min_ms = 2000\nbackoff_max_ms = 1000",
       "test.toml:2:18: webhooks.backoff_min_ms: must not exceed webhooks.backoff_max_ms (1000), got 2000"},
      {"[webhooks]\nbackoff_min_ms = 70000",
       "test.toml:2:18: webhooks.backoff_min_ms: must not exceed webhooks.backoff_max_ms (60000), got 70000"},
      {"[webhooks]\nca_file = \"/nonexistent/ca.pem\"",
       "test.toml:2:11: webhooks.ca_file: cannot read '/nonexistent/ca.pem': No such file or directory"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(c.toml), c.expected) << c.toml;

  EXPECT_EQ(error_of("[auth]\njwt_algorithm = \"RS256\"\njwt_public_key_file = \"" + dir.path() + "\""),
            "test.toml:3:23: auth.jwt_public_key_file: '" + dir.path() + "' is not a regular file");
  // A 16-byte secret is enough; RS256 ignores jwt_secret.
  EXPECT_EQ(error_of("[auth]\njwt_secret = \"0123456789abcdef\""), "");
}

TEST(ConfigErrors, SecretsAreNotEchoed) {
  EXPECT_FALSE(contains(error_of("[auth]\njwt_secret = \"hunter2\""), "hunter2"));
  EXPECT_FALSE(contains(error_of("[api]\nkey = \"hunter2\""), "hunter2"));
  EXPECT_FALSE(contains(error_of("[auth]\nsession_redis_url = \"http://:hunter2@x\""), "hunter2"));
}

TEST(ConfigErrors, ControlCharactersAreEscaped) {
  EXPECT_TRUE(contains(error_of("[log]\nlevel = \"a\\u0001b\""), "got 'a\\x01b'"));
}

// ---- validate after command-line overrides -------------------------------------

TEST(ConfigValidate, OverridesAreChecked) {
  Config c;
  EXPECT_EQ(validate_error(c), "");
  c.server.threads = 300;
  EXPECT_EQ(validate_error(c), "cli: server.threads: must be between 0 and 255, got 300");
  c = {};
  c.server.listen = "127.0.0.1:70000";
  EXPECT_EQ(validate_error(c), "cli: server.listen: bad port in '127.0.0.1:70000' (expected 0-65535)");
  c = {};
  c.server.max_payload = std::size_t(-1);
  EXPECT_TRUE(contains(validate_error(c), "cli: server.max_payload: must be between 1 and 67108864, got 18446744073709551615"));
  c = {};
  c.log.level = "loud";
  EXPECT_TRUE(contains(validate_error(c), "cli: log.level: must be one of"));
  c = {};
  c.server.cors_origins = {"*", ""};
  EXPECT_EQ(validate_error(c), "cli: server.cors_origins[1]: must not be empty");
  c = {};
  c.auth.jwt_algorithm = "RS256";
  EXPECT_EQ(validate_error(c), "cli: auth.jwt_algorithm: RS256 requires auth.jwt_public_key_file");
  c = {};
  c.webhooks.url = "https://x";
  EXPECT_EQ(validate_error(c), "cli: webhooks.url: requires webhooks.secret (deliveries are signed with it)");
  c.webhooks.secret = "s";
  EXPECT_EQ(validate_error(c), "");
  c = {};
  c.server.data_dir = "/data/";
  EXPECT_EQ(store_url(c), "sqlite:/data/rollcall.db");
}

// ---- glob_match -----------------------------------------------------------------

TEST(GlobMatch, Cases) {
  struct Case {
    std::string_view pattern, text;
    bool match;
  };
  const Case cases[] = {
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"*", "", true},
      {"*", "anything at all", true},
      {"**", "x", true},
      {"?", "", false},
      {"?", "a", true},
      {"?", "ab", false},
      {"room", "room", true},
      {"room", "Room", false},
      {"room", "rooms", false},
      {"public:*", "public:", true},
      {"public:*", "public:lobby", true},
      {"public:*", "private:lobby", false},
      {"team-?", "team-1", true},
      {"team-?", "team-12", false},
      {"*:chat", "org:42:chat", true},
      {"*:chat", "org:42:chat:x", false},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "aXbY", false},
      {"a*b?c", "abbbxc", true},
      {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
      {"user:*:room-?", "user:7:room-3", true},
      {"[abc]", "a", false},  // no character classes
      {"[abc]", "[abc]", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(glob_match(c.pattern, c.text), c.match) << "'" << c.pattern << "' vs '" << c.text << "'";
  }
}

}  // namespace
}  // namespace rollcall::app
