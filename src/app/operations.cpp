#include "app/operations.hpp"

#include "app/daemon.hpp"
#include "app/http_json.hpp"
#include "app/prometheus.hpp"
#include "app/web_assets.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace rollcall::app {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The pages allow only their own files: no inline script or style, no CDN.
constexpr const char* kPagePolicy =
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

std::string_view content_type(std::string_view name) {
  auto ends = [name](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

const WebAsset* find_asset(std::string_view name) {
  for (const auto& a : web_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// GET /admin/<file> and /demo/<file>: `area` is "admin" or "demo".
HttpResponse serve_asset(const HttpRequest& req, std::string_view area) {
  if (req.method != "GET" && req.method != "HEAD") return method_not_allowed("GET");
  std::string_view rest = std::string_view(req.path).substr(area.size() + 2);  // after "/area/"
  if (rest.empty()) rest = "index.html";
  const WebAsset* asset = rest == "socket.io.min.js" ? find_asset(rest) : find_asset(std::string(area) + "/" + std::string(rest));
  if (asset == nullptr) return error_response(404, "no such file");
  HttpResponse res;
  res.content_type = std::string(content_type(rest));
  res.body = std::string(asset->bytes);
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Content-Security-Policy", kPagePolicy);
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  return res;
}

HttpResponse redirect(std::string location) {
  HttpResponse res{.status = 308, .content_type = "text/plain; charset=utf-8", .body = "see " + location + "\n"};
  res.headers.emplace_back("Location", std::move(location));
  return res;
}

std::string base64url(std::string_view in) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buf >> bits) & 63];
    }
  }
  if (bits > 0) out += alphabet[(buf << (6 - bits)) & 63];
  return out;
}

// An HS256 JSON Web Token over `claims`.
std::string sign_hs256(const json::object& claims, const std::string& secret) {
  std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(json::serialize(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

struct DemoUser {
  const char* id;
  const char* name;
};
constexpr DemoUser kDemoUsers[] = {{"foghorn", "Foghorn Leghorn"}, {"daffy", "Daffy Duck"},
                                   {"bugs", "Bugs Bunny"},         {"mickey", "Mickey Mouse"},
                                   {"minnie", "Minnie Mouse"}};

json::array demo_orgs(std::string_view user) {
  json::array orgs;
  for (const auto& m : demo_memberships()) {
    if (m.user == user) orgs.push_back(json::object{{"id", m.org}, {"role", m.role}});
  }
  return orgs;
}

const DemoUser* demo_user(std::string_view id) {
  for (const auto& u : kDemoUsers) {
    if (id == u.id) return &u;
  }
  return nullptr;
}

std::optional<std::string> body_user(const HttpRequest& req) {
  boost::system::error_code ec;
  auto v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto* u = v.as_object().if_contains("user");
  if (u == nullptr || !u->is_string()) return std::nullopt;
  return std::string(u->as_string());
}

// process_* metrics from /proc (Linux).
struct ProcessStats {
  double cpu_seconds = 0, start_time = 0;
  double resident = 0, virtual_bytes = 0;
  double open_fds = 0, max_fds = 0;
};

ProcessStats process_stats() {
  ProcessStats p;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command name (which may hold spaces): state is field 3.
  if (auto close = line.rfind(')'); close != std::string::npos) {
    std::istringstream in(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; in >> x;) f.push_back(x);
    auto field = [&f](std::size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
    p.cpu_seconds = (field(14) + field(15)) / ticks;
    p.virtual_bytes = field(23);
    p.resident = field(24) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    double boot = 0;
    std::ifstream s("/proc/stat");
    for (std::string l; std::getline(s, l);) {
      if (l.starts_with("btime ")) boot = std::stod(l.substr(6));
    }
    p.start_time = boot + field(22) / ticks;
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    p.open_fds += 1;
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = static_cast<double>(rl.rlim_cur);
  return p;
}

std::optional<std::size_t> parse_count(const HttpRequest& req, const char* name, std::size_t fallback,
                                       std::size_t max, std::string& error) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return fallback;
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || v == 0 || v > max) {
    error = std::string(name) + ": must be 1.." + std::to_string(max);
    return std::nullopt;
  }
  return v;
}

}  // namespace

struct Operations::Impl {
  Server& server;
  Notifications* notifications;
  OperationsOptions o;
  Namespace* admin = nullptr;
  // The worker: admin questions and pushes wait here, not on a loop.
  asio::thread_pool worker{1};
  asio::steady_timer push_timer{worker};
  bool push_armed = false;       // worker only
  bool push_again = false;       // worker only: a change came while a push was armed
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Impl(Server& s, Notifications* n, OperationsOptions opts) : server(s), notifications(n), o(std::move(opts)) {}
  ~Impl() {
    worker.stop();
    worker.join();
  }

  Presence* presence() {
    try {
      return &server.presence();
    } catch (const std::logic_error&) {
      return nullptr;
    }
  }

  json::object stats() {
    json::object s;
    auto* p = presence();
    s["online"] = p ? p->online_count() : 0;
    auto connections = p ? p->connection_total() : std::nullopt;
    s["connections"] = connections.value_or(0);
    s["node"] = o.node_id;
    return s;
  }

  // A change of presence: the dashboards get new counts soon (coalesced:
  // one push per 100 ms at most, and one more a second after the last
  // change, for the counts other nodes and the presence thread settle on).
  void changed() {
    asio::post(worker, [this] {
      if (push_armed) {
        push_again = true;
        return;
      }
      arm(std::chrono::milliseconds(100));
    });
  }

  void arm(std::chrono::milliseconds after) {  // worker
    push_armed = true;
    push_timer.expires_after(after);
    push_timer.async_wait([this](boost::system::error_code ec) {
      push_armed = false;
      if (ec) return;
      admin->emit("stats", Args::of(stats()));
      if (push_again) {
        push_again = false;
        arm(std::chrono::milliseconds(100));
      } else if (after_settle_) {
        after_settle_ = false;
      } else {
        after_settle_ = true;
        arm(std::chrono::milliseconds(1000));
      }
    });
  }
  bool after_settle_ = false;  // worker only

  void install_admin_namespace() {
    admin = &server.of(kAdminNamespace);
    admin->use([key = o.admin_key](Socket& socket, Next next) {
      const auto* given = socket.auth().if_contains("key");
      std::string_view k = given && given->is_string() ? std::string_view(given->as_string()) : std::string_view{};
      if (key.empty() || k.size() != key.size() || CRYPTO_memcmp(k.data(), key.data(), key.size()) != 0) {
        return next(ConnectError{"invalid admin key", json::object{{"code", "invalid_admin_key"}}});
      }
      next(std::nullopt);
    });
    admin->on_connection([this](Socket& socket) {
      asio::post(worker, [this, weak = socket.weak()] {
        auto s = stats();
        if (auto socket = weak.lock()) {
          socket->post([s = std::move(s)](Socket& sk) { sk.emit("stats", Args::of(s)); });
        }
      });
    });
    // In a cluster each node keeps the transitions it decided; the admin
    // API asks the others for theirs (transitions()).
    admin->on_server_side(kTransitionsEvent, [this](Args args, Ack ack) {
      if (!ack) return;
      std::size_t limit = 50;
      if (args.size() > 0 && args[0].is_object()) {
        if (auto* l = args[0].as_object().if_contains("limit"); l && l->is_int64()) {
          limit = static_cast<std::size_t>(std::clamp<std::int64_t>(l->as_int64(), 1, 1000));
        }
      }
      json::array out;
      if (auto* p = presence()) {
        for (const auto& e : p->recent_transitions(limit)) out.push_back(transition_json(e));
      }
      ack(Args::of(std::move(out)));
    });
    auto on_transition = [this, alive = std::weak_ptr<bool>(alive)](const PresenceEvent& e) {
      if (alive.expired()) return;
      admin->emit("transition", Args::of(transition_json(e)));
      changed();
    };
    if (auto* p = presence()) {
      p->on_online(on_transition);
      p->on_offline(on_transition);
    }
  }

  // me:connections {connections: n} to every socket of the user (demo).
  void tell_connections(const std::string& user, std::string leaving) {
    auto& nsp = server.of("/");
    nsp.to(user_room(user)).fetch_sockets([&nsp, user, leaving](std::vector<SocketSnapshot> sockets) {
      std::size_t n = 0;
      for (const auto& s : sockets) n += s.id != leaving ? 1 : 0;
      nsp.to(user_room(user)).emit("me:connections", Args::of(json::object{{"connections", n}}));
    });
  }

  void install_observers() {
    std::weak_ptr<bool> weak = alive;
    server.observe_sockets(
        [this, weak](Socket& socket) {
          if (weak.expired() || socket.user() == nullptr) return;
          if (!o.admin_key.empty()) changed();
          if (o.demo && socket.nsp() == "/") tell_connections(socket.user()->id, {});
        },
        [this, weak](Socket& socket, const std::string&) {
          if (weak.expired() || socket.user() == nullptr) return;
          if (!o.admin_key.empty()) changed();
          if (o.demo && socket.nsp() == "/") tell_connections(socket.user()->id, socket.id());
        });
  }

  // --- /v1/admin/... (worker thread) ---

  HttpResponse admin_api(const HttpRequest& req) {
    auto* p = presence();
    if (p == nullptr) return error_response(503, "presence is disabled");
    std::string_view path = std::string_view(req.path).substr(std::string_view("/v1/admin/").size());
    std::string error;
    auto unavailable = [p] {
      auto h = p->store_health();
      return error_response(503, "presence is unavailable" + (h.error.empty() ? std::string() : ": " + h.error));
    };
    if (path == "stats") {
      if (req.method != "GET") return method_not_allowed("GET");
      return json_response(200, stats());
    }
    if (path == "nodes") {
      if (req.method != "GET") return method_not_allowed("GET");
      auto nodes = p->nodes();
      if (!nodes) return unavailable();
      json::array out;
      for (auto& n : *nodes) {
        if (n.id.empty()) n.id = o.node_id;  // the built-in presence knows no names
        if (n.address.empty() && n.self) {
          // Where this node listens, with the port it got (listen may say 0).
          n.address = o.address.substr(0, o.address.rfind(':') + 1) + std::to_string(server.port());
        }
        out.push_back(json::object{{"id", n.id},
                                   {"address", n.address},
                                   {"leaseAgeMs", n.lease_age_ms},
                                   {"connections", n.connections},
                                   {"self", n.self}});
      }
      return json_response(200, json::object{{"nodes", std::move(out)}});
    }
    if (path == "users") {
      if (req.method != "GET") return method_not_allowed("GET");
      if (auto on = req.query.find("online"); on != req.query.end() && on->second != "true") {
        return error_response(400, "online: only online=true is supported (offline users are not kept)");
      }
      auto limit = parse_count(req, "limit", 100, 1000, error);
      if (!limit) return error_response(400, error);
      auto cursor = req.query.find("cursor");
      auto page = p->list_online(cursor == req.query.end() ? std::string() : cursor->second, *limit);
      if (!page) return unavailable();
      json::array users;
      for (const auto& u : page->users) users.push_back(presence_json(u, false));
      return json_response(200, json::object{{"users", std::move(users)},
                                             {"next", page->next.empty() ? json::value(nullptr) : json::value(page->next)}});
    }
    if (path.starts_with("users/")) {
      std::string_view rest = path.substr(6);
      const bool disconnect = rest.ends_with("/disconnect");
      if (disconnect) rest.remove_suffix(std::string_view("/disconnect").size());
      std::string user(rest);
      if (user.empty() || user.find('/') != std::string::npos) return error_response(404, "no such endpoint");
      if (!valid_utf8(user)) return error_response(400, "user id is not valid UTF-8");
      if (disconnect) {
        if (req.method != "POST") return method_not_allowed("POST");
        // Every namespace the user is connected to, on every node (the
        // cluster adapter carries it); a DISCONNECT packet, so clients do
        // not reconnect on their own.
        std::set<std::string> nsps{"/"};
        if (auto u = p->get(user)) {
          for (const auto& c : u->connections) nsps.insert(c.nsp);
        }
        json::array done;
        for (const auto& name : nsps) {
          if (auto* nsp = server.find_namespace(name)) {
            nsp->to(user_room(user)).disconnect_sockets(false);
            done.push_back(json::value(name));
          }
        }
        spdlog::info("admin: disconnected every connection of user {}", user);
        return json_response(202, json::object{{"ok", true}, {"user", user}, {"namespaces", std::move(done)}});
      }
      if (req.method != "GET") return method_not_allowed("GET");
      if (auto u = p->get(user)) return json_response(200, presence_json(*u, true));
      if (!p->store_health().ok) return unavailable();
      return error_response(404, "user '" + user + "' is not online");
    }
    if (path == "webhooks") {
      if (req.method != "GET") return method_not_allowed("GET");
      auto q = p->webhook_queue();
      if (!q) return unavailable();
      json::array dead;
      for (const auto& d : p->dead_letters(20)) dead.push_back(dead_letter_json(d));
      return json_response(200, json::object{{"enabled", q->enabled},
                                             {"pending", q->pending},
                                             {"retrying", q->retrying},
                                             {"dead", q->dead},
                                             {"oldest", q->oldest ? json::value(dead_letter_json(*q->oldest)) : json::value(nullptr)},
                                             {"deadLetters", std::move(dead)}});
    }
    if (path == "webhooks/dead/retry") {
      if (req.method != "POST") return method_not_allowed("POST");
      auto n = p->retry_dead_letters();
      if (!n) return unavailable();
      spdlog::info("admin: {} dead-lettered webhook events queued again", *n);
      return json_response(200, json::object{{"retried", *n}});
    }
    return error_response(404, "no such endpoint");
  }

  static constexpr const char* kTransitionsEvent = "rollcall:admin:transitions";

  // GET /v1/admin/transitions: this node's, and in a cluster every other
  // node's (server-side emit with an ack), newest first by seq.
  void transitions(const HttpRequest& req, HttpRespond respond) {
    if (req.method != "GET") return respond(method_not_allowed("GET"));
    std::string error;
    auto limit = parse_count(req, "limit", 50, 1000, error);
    if (!limit) return respond(error_response(400, error));
    auto merged = std::make_shared<json::array>();
    if (auto* p = presence()) {
      for (const auto& e : p->recent_transitions(*limit)) merged->push_back(transition_json(e));
    }
    auto finish = [merged, n = *limit, respond](std::vector<Args> others) {
      for (auto& a : others) {
        if (a.size() > 0 && a[0].is_array()) {
          for (auto& t : a[0].as_array()) merged->push_back(t);
        }
      }
      auto seq = [](const json::value& v) -> std::uint64_t {
        const auto* s = v.is_object() ? v.as_object().if_contains("seq") : nullptr;
        return s && s->is_number() ? s->to_number<std::uint64_t>() : 0;
      };
      std::vector<json::value> all(merged->begin(), merged->end());
      std::sort(all.begin(), all.end(), [&seq](const auto& a, const auto& b) { return seq(a) > seq(b); });
      json::array out;
      for (auto& t : all) {
        if (out.size() == n) break;
        out.push_back(std::move(t));
      }
      respond(json_response(200, json::object{{"transitions", std::move(out)}}));
    };
    if (!o.redis_configured) return finish({});
    admin->server_side_emit_with_ack(kTransitionsEvent, Args::of(json::object{{"limit", *limit}}),
                                     Millis(2000), [finish](std::error_code, std::vector<Args> others) {
                                       finish(std::move(others));  // a node that did not answer is left out
                                     });
  }

  // --- /metrics ---

  std::string render_metrics(const ServerStats& st) {
    PrometheusWriter w;
    w.family("rollcall_connections", "gauge", "Sockets connected to this node, by transport and namespace");
    for (const auto& n : st.namespaces) {
      w.sample("rollcall_connections", {{"transport", "polling"}, {"nsp", n.name}}, static_cast<double>(n.polling));
      w.sample("rollcall_connections", {{"transport", "websocket"}, {"nsp", n.name}}, static_cast<double>(n.websocket));
    }
    auto* p = presence();
    PresenceMetrics pm = p ? p->metrics() : PresenceMetrics{};
    w.family("rollcall_users_online", "gauge", "Users online (in the whole cluster)");
    w.sample("rollcall_users_online", {}, p ? static_cast<double>(p->online_count()) : 0);
    w.family("rollcall_presence_transitions_total", "counter", "Presence transitions this node decided and announced");
    w.sample("rollcall_presence_transitions_total", {{"type", "online"}}, static_cast<double>(pm.online));
    w.sample("rollcall_presence_transitions_total", {{"type", "offline"}}, static_cast<double>(pm.offline));
    w.family("rollcall_webhook_deliveries_total", "counter",
             "Webhook outcomes: events delivered, requests failed, events dead-lettered");
    w.sample("rollcall_webhook_deliveries_total", {{"result", "delivered"}}, static_cast<double>(pm.webhook_delivered));
    w.sample("rollcall_webhook_deliveries_total", {{"result", "failed"}}, static_cast<double>(pm.webhook_failed));
    w.sample("rollcall_webhook_deliveries_total", {{"result", "dead"}}, static_cast<double>(pm.webhook_dead));
    auto seconds = pm.webhook_seconds;
    if (seconds.bounds.empty()) {  // webhooks off: the same buckets, empty
      seconds.bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
      seconds.counts.assign(seconds.bounds.size(), 0);
    }
    w.histogram("rollcall_webhook_delivery_seconds", "Duration of webhook requests", seconds);
    auto queue = p ? p->webhook_queue() : std::nullopt;
    w.family("rollcall_outbox_pending", "gauge", "Webhook events waiting to be delivered");
    w.sample("rollcall_outbox_pending", {}, queue ? static_cast<double>(queue->pending) : 0);
    w.family("rollcall_outbox_dead", "gauge", "Webhook events dead-lettered and kept");
    w.sample("rollcall_outbox_dead", {}, queue ? static_cast<double>(queue->dead) : 0);
    w.family("rollcall_notifications_total", "counter", "Notifications stored and sent by this node");
    auto nh = notifications ? notifications->health() : Notifications::Health{};
    w.sample("rollcall_notifications_total", {}, static_cast<double>(nh.published));
    const bool presence_ok = p == nullptr || p->store_health().ok;
    w.family("rollcall_redis_up", "gauge", "1 when Redis answers (0 without a cluster)");
    w.sample("rollcall_redis_up", {}, o.redis_configured && presence_ok ? 1 : 0);
    w.family("rollcall_postgres_up", "gauge", "1 when the configured PostgreSQL answers (0 when none is configured)");
    bool pg_up = o.postgres_configured && notifications != nullptr &&
                 (!nh.postgres_configured || nh.postgres_connected) && nh.store_ok;
    w.sample("rollcall_postgres_up", {}, pg_up ? 1 : 0);
    w.histogram("rollcall_event_loop_lag_seconds", "How late the event loops ran a timer due every 100 ms", st.loop_lag);
    w.family("rollcall_bytes_total", "counter", "Bytes read from (in) and written to (out) clients, HTTP and WebSocket");
    w.sample("rollcall_bytes_total", {{"direction", "in"}}, static_cast<double>(st.bytes_received));
    w.sample("rollcall_bytes_total", {{"direction", "out"}}, static_cast<double>(st.bytes_sent));
    const auto proc = process_stats();
    w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds");
    w.sample("process_cpu_seconds_total", {}, proc.cpu_seconds);
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
    w.sample("process_resident_memory_bytes", {}, proc.resident);
    w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes");
    w.sample("process_virtual_memory_bytes", {}, proc.virtual_bytes);
    w.family("process_open_fds", "gauge", "Number of open file descriptors");
    w.sample("process_open_fds", {}, proc.open_fds);
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors");
    w.sample("process_max_fds", {}, proc.max_fds);
    w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds");
    w.sample("process_start_time_seconds", {}, proc.start_time);
    return w.take();
  }

  void metrics(const HttpRequest& req, HttpRespond respond) {
    if (req.method != "GET") return respond(method_not_allowed("GET"));
    server.collect_stats([this, respond = std::move(respond)](ServerStats st) mutable {
      asio::post(worker, [this, respond = std::move(respond), st = std::move(st)]() mutable {
        HttpResponse res;
        res.content_type = std::string(PrometheusWriter::kContentType);
        res.body = render_metrics(st);
        respond(std::move(res));
      });
    });
  }

  // --- /demo/... ---

  void demo(const HttpRequest& req, HttpRespond respond) {
    if (req.path == "/demo/users") {
      if (req.method != "GET") return respond(method_not_allowed("GET"));
      json::array users;
      for (const auto& u : kDemoUsers) {
        users.push_back(json::object{{"id", u.id}, {"name", u.name}, {"orgs", demo_orgs(u.id)}});
      }
      return respond(json_response(200, json::object{{"users", std::move(users)}}));
    }
    if (req.path == "/demo/token") {
      if (req.method != "POST") return respond(method_not_allowed("POST"));
      auto id = body_user(req);
      const DemoUser* u = id ? demo_user(*id) : nullptr;
      if (u == nullptr) return respond(error_response(400, "user: must be one of the demo users (GET /demo/users)"));
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
      json::object claims{{"sub", u->id}, {"name", u->name}, {"orgs", demo_orgs(u->id)},
                          {"iat", now},   {"exp", now + 24 * 3600}};
      return respond(json_response(200, json::object{{"token", sign_hs256(claims, o.demo_jwt_secret)}}));
    }
    if (req.path == "/demo/order") {
      if (req.method != "POST") return respond(method_not_allowed("POST"));
      auto id = body_user(req);
      const DemoUser* u = id ? demo_user(*id) : nullptr;
      if (u == nullptr) return respond(error_response(400, "user: must be one of the demo users (GET /demo/users)"));
      if (notifications == nullptr) return respond(error_response(503, "notifications are off"));
      // The order of docs/notifications.md's demo (scripts/demo-order.sh).
      NotificationRequest r;
      r.audience.orgs = {"looney-tunes", "disney"};
      r.type = "order.placed";
      r.data = json::object{{"product", "Acme Giant Rubber Band"}, {"buyer", u->name}, {"seller", "Looney Tunes"}};
      static std::atomic<int> order{1042};
      r.detail = json::object{{"order", "LT-" + std::to_string(order++)}, {"quantity", 12},
                              {"unit_price", 19.99}, {"currency", "USD"}};
      r.detail_roles = std::vector<std::string>{"admin", "order-desk"};
      notifications->publish(std::move(r), [respond](const std::string& e, Notifications::Published p) {
        if (!e.empty()) return respond(error_response(503, e));
        respond(json_response(201, json::object{{"id", p.id}, {"recipients", p.recipients}}));
      });
      return;
    }
    respond(serve_asset(req, "demo"));
  }
};

Operations::Operations(Server& server, Notifications* notifications, OperationsOptions options)
    : impl_(std::make_shared<Impl>(server, notifications, std::move(options))) {
  Impl* impl = impl_.get();
  const auto& o = impl->o;
  if (!o.admin_key.empty()) {
    impl->install_admin_namespace();
    server.add_http_route("/admin", [](const HttpRequest&) { return redirect("/admin/"); });
    server.add_http_route("/admin/", [](const HttpRequest& req) { return serve_asset(req, "admin"); });
  }
  if (o.demo) {
    server.add_http_route("/demo", [](const HttpRequest&) { return redirect("/demo/"); });
    server.add_async_http_route("/demo/", [impl](const HttpRequest& req, HttpRespond respond) {
      impl->demo(req, std::move(respond));
    });
  }
  if (o.metrics) {
    server.add_async_http_route("/metrics", [impl](const HttpRequest& req, HttpRespond respond) {
      impl->metrics(req, std::move(respond));
    });
  }
  if (!o.admin_key.empty() || o.demo) impl->install_observers();
}

Operations::~Operations() {
  *impl_->alive = false;
  impl_->alive.reset();
}

void Operations::admin_api(const HttpRequest& req, HttpRespond respond) {
  if (impl_->o.admin_key.empty()) {
    return respond(error_response(403, "the admin API is disabled: set admin.key in the config file"));
  }
  if (auto refused = refuse_bearer(req, impl_->o.admin_key, "admin.key")) return respond(std::move(*refused));
  Impl* impl = impl_.get();
  if (req.path == "/v1/admin/transitions") return impl->transitions(req, std::move(respond));
  asio::post(impl->worker, [impl, req, respond = std::move(respond)]() mutable {
    respond(impl->admin_api(req));
  });
}

}  // namespace rollcall::app
