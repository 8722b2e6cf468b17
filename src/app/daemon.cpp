#include "app/daemon.hpp"
#include "app/http_json.hpp"

#include <rollcall/auth.hpp>
#include <rollcall/notifications.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <unistd.h>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

namespace rollcall::app {

namespace json = boost::json;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string rfc3339(std::int64_t ms) { return format_rfc3339_ms(ms); }

// This node's name in the admin API when it is not in a cluster.
std::string node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "rollcalld";
  return host;
}

bool is_identity_room(std::string_view room) {
  return room.starts_with("user:") || room.starts_with("org:");
}

ConnectError auth_error(std::string message, const char* code) {
  json::object data;
  data["code"] = code;
  return ConnectError{std::move(message), std::move(data)};
}

}  // namespace

struct Daemon::State {
  Config config;
  Server* server = nullptr;
  bool clustered = false;  // presence answers from Redis
  Notifications* notifications = nullptr;  // null: off (notifications_off says why)
  Operations* operations = nullptr;
  std::string notifications_off;

  // In a cluster, presence queries read Redis: while it is unreachable
  // they cannot be answered, which is said rather than answered "offline".
  std::optional<std::string> presence_unavailable() const {
    if (!clustered) return std::nullopt;
    auto h = server->presence().store_health();
    if (h.ok) return std::nullopt;
    return "presence is unavailable: Redis cannot be reached (" + h.error + ")";
  }

  bool may_join(std::string_view room) const {
    if (room.empty() || is_identity_room(room)) return false;
    for (const auto& pattern : config.rooms.client_join) {
      if (glob_match(pattern, room)) return true;
    }
    return false;
  }

  // The rooms `socket` joined through room:join (not its own id nor its
  // identity rooms), and whether `room` is one of them.
  struct ClientRooms {
    std::size_t count = 0;
    bool has_room = false;
  };
  static ClientRooms client_rooms(const Socket& socket, std::string_view room) {
    ClientRooms out;
    for (const auto& r : socket.rooms()) {
      if (r == socket.id() || is_identity_room(r)) continue;
      ++out.count;
      out.has_room = out.has_room || r == room;
    }
    return out;
  }

  void install_handlers(Socket& socket) {
    socket.on("room:join", [this, &socket](Args args, Ack ack) {
      std::string room = args.size() > 0 && args[0].is_string() ? std::string(args[0].as_string()) : "";
      json::object o;
      if (!may_join(room)) {
        o["ok"] = false;
        o["error"] = "forbidden: room '" + room + "' is not open to clients (rooms.client_join)";
      } else if (auto joined = client_rooms(socket, room);
                 joined.count >= config.rooms.max_per_socket && !joined.has_room) {
        o["ok"] = false;
        o["error"] = "too many rooms: this socket is in " + std::to_string(joined.count) +
                     " rooms it joined, the limit is " +
                     std::to_string(config.rooms.max_per_socket) + " (rooms.max_per_socket)";
      } else {
        socket.join(room);
        o["ok"] = true;
        o["room"] = room;
      }
      if (ack) ack(Args::of(o));
    });
    socket.on("room:leave", [&socket](Args args, Ack ack) {
      std::string room = args.size() > 0 && args[0].is_string() ? std::string(args[0].as_string()) : "";
      json::object o;
      o["ok"] = !room.empty() && !is_identity_room(room);
      if (o["ok"].as_bool()) socket.leave(room);
      if (ack) ack(Args::of(o));
    });
    // presence:list [{org}] -> {users: [...]} of the caller's orgs.
    socket.on("presence:list", [this, &socket](Args args, Ack ack) {
      if (!ack) return;
      const User* me = socket.user();
      json::object out;
      if (!me) {
        out["error"] = "anonymous sockets have no orgs";
        return ack(Args::of(out));
      }
      std::string wanted;
      if (args.size() > 0 && args[0].is_object()) {
        if (auto* org = args[0].as_object().if_contains("org"); org && org->is_string()) {
          wanted = org->as_string();
        }
      }
      std::vector<std::string> orgs;
      for (const auto& org : me->orgs) {
        if (wanted.empty() || org.id == wanted) orgs.push_back(org.id);
      }
      if (!wanted.empty() && orgs.empty()) {
        out["error"] = "forbidden: not a member of org '" + wanted + "'";
        return ack(Args::of(out));
      }
      // The orgs are asked without blocking this loop (in a cluster they
      // are read from Redis); the answer goes back on the socket's loop.
      struct Gather {
        std::mutex mutex;
        std::vector<std::optional<std::vector<UserPresence>>> per_org;
        std::size_t left = 0;
      };
      auto g = std::make_shared<Gather>();
      g->per_org.resize(orgs.size());
      g->left = orgs.size();
      auto finish = [this, g, wanted, ack, weak = socket.weak()]() {
        json::object reply;
        json::array users;
        std::set<std::string> seen;
        for (const auto& list : g->per_org) {
          if (!list) {
            reply["error"] = presence_unavailable().value_or("presence is unavailable");
            break;
          }
          for (const auto& p : *list) {
            if (seen.insert(p.user).second) users.push_back(presence_json(p, false));
          }
        }
        if (!reply.contains("error")) {
          if (!wanted.empty()) reply["org"] = wanted;
          reply["users"] = std::move(users);
        }
        if (auto s = weak.lock()) {
          s->post([ack, reply = std::move(reply)](Socket&) mutable { ack(Args::of(std::move(reply))); });
        }
      };
      if (orgs.empty()) return finish();
      for (std::size_t i = 0; i < orgs.size(); ++i) {
        server->presence().online_in_org_async(
            orgs[i], [g, i, finish](std::optional<std::vector<UserPresence>> users) {
              bool last = false;
              {
                std::lock_guard lock(g->mutex);
                g->per_org[i] = std::move(users);
                last = --g->left == 0;
              }
              if (last) finish();
            });
      }
    });
  }

  // POST /v1/emit {"nsp", "rooms", "except", "event", "data"}: a broadcast
  // from a backend, to the matching sockets of every node (docs/api.md).
  HttpResponse emit(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return error_response(400, "the body is not JSON: " + ec.message());
    if (!v.is_object()) return error_response(400, "the body must be a JSON object");
    const auto& o = v.as_object();
    for (const auto& [key, value] : o) {
      if (key != "nsp" && key != "rooms" && key != "except" && key != "event" && key != "data") {
        std::string k(key);
        return error_response(400, valid_utf8(k) ? "unknown field '" + k + "'" : "unknown field");
      }
    }
    std::string nsp = "/";
    if (auto* n = o.if_contains("nsp")) {
      if (!n->is_string() || n->as_string().empty() || n->as_string().front() != '/') {
        return error_response(400, "nsp: must be a string starting with '/'");
      }
      nsp = std::string(n->as_string());
    }
    auto strings = [](const json::value* list, std::vector<std::string>& out) {
      if (list == nullptr) return true;
      if (!list->is_array()) return false;
      for (const auto& r : list->as_array()) {
        if (!r.is_string() || r.as_string().empty()) return false;
        out.emplace_back(r.as_string());
      }
      return true;
    };
    BroadcastOperator::Target target;
    if (!strings(o.if_contains("rooms"), target.rooms)) {
      return error_response(400, "rooms: must be an array of non-empty strings");
    }
    if (!strings(o.if_contains("except"), target.except)) {
      return error_response(400, "except: must be an array of non-empty strings");
    }
    const auto* event = o.if_contains("event");
    if (event == nullptr || !event->is_string() || event->as_string().empty()) {
      return error_response(400, "event: required, a non-empty string");
    }
    static constexpr std::string_view reserved[] = {"connect",      "connect_error",  "disconnect",
                                                    "disconnecting", "newListener", "removeListener"};
    for (auto r : reserved) {
      if (event->as_string() == r) return error_response(400, "event: '" + std::string(r) + "' is reserved");
    }
    Args args;
    if (const auto* data = o.if_contains("data")) {
      if (!data->is_array()) return error_response(400, "data: must be an array (the event's arguments)");
      args = Args(data->as_array());
    }
    Namespace* target_nsp = server->find_namespace(nsp);
    if (target_nsp == nullptr) return error_response(400, "nsp: no namespace '" + nsp + "' on this server");
    target_nsp->target(std::move(target)).emit(std::string(event->as_string()), std::move(args));
    return json_response(202, json::object{{"ok", true}});
  }

  HttpResponse readiness() const {
    json::array failing;
    auto fail = [&failing](const char* dependency, const std::string& error) {
      failing.push_back(json::object{{"dependency", dependency}, {"error", error}});
    };
    auto presence = server->presence().store_health();
    if (!presence.ok) {
      fail(clustered ? "redis" : "presence store", presence.error);
      // Transitions wait in memory, unannounced, until the store is back.
      auto& f = failing.back().as_object();
      f["unstored"] = presence.unstored;
      f["lost"] = presence.lost;
      f["failingSince"] = rfc3339(presence.failing_since_ms);
    }
    if (notifications != nullptr) {
      auto h = notifications->health();
      bool pg_store = notifications_store_url(config).starts_with("postgres");
      if (!h.store_ok) fail(pg_store ? "postgres" : "notifications store", h.store_error);
      if (h.postgres_configured && !h.postgres_connected) {
        fail("postgres", "notifications.postgres_url: " + (h.postgres_error.empty() ? "connecting" : h.postgres_error));
      }
    }
    if (failing.empty()) return HttpResponse{.status = 200, .body = R"({"status":"ready"})"};
    return json_response(503, json::object{{"status", "unavailable"}, {"failing", std::move(failing)}});
  }

  // The refusal of a request without the API key, or nullopt.
  std::optional<HttpResponse> refuse_api(const HttpRequest& req) const {
    if (config.api.key.empty()) {
      return error_response(403, "the HTTP API is disabled: set api.key in the config file");
    }
    return refuse_bearer(req, config.api.key, "api.key");
  }

  // /v1/...: the notification and membership routes answer once the store
  // has (on the notifications thread); the others at once.
  void api_async(const HttpRequest& req, HttpRespond respond) {
    // The access log: one info line per API call, once it is answered.
    std::string path = req.path;
    for (auto& ch : path) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';  // no forged log lines
    }
    respond = [respond = std::move(respond), method = req.method, path = std::move(path),
               start = std::chrono::steady_clock::now()](HttpResponse r) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      spdlog::info("api {} {} {} {:.1f} ms", method, path, r.status, ms);
      respond(std::move(r));
    };
    if (req.path.starts_with("/v1/admin/")) return operations->admin_api(req, std::move(respond));
    if (auto refused = refuse_api(req)) return respond(std::move(*refused));
    if (req.path.starts_with("/v1/orgs/") || req.path == "/v1/notifications" ||
        req.path.starts_with("/v1/users/")) {
      return notifications_api(req, std::move(respond));
    }
    respond(api(req));
  }

  static std::optional<std::int64_t> parse_id(std::string_view s) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
    return v;
  }

  // Splits "/v1/orgs/{org}/members[/{user}]" and "/v1/users/{user}/notifications[/read]".
  static std::vector<std::string> path_parts(std::string_view path) {
    std::vector<std::string> parts;
    path.remove_prefix(1);
    while (!path.empty()) {
      auto slash = path.find('/');
      parts.emplace_back(path.substr(0, slash));
      if (slash == std::string_view::npos) break;
      path.remove_prefix(slash + 1);
      if (path.empty()) parts.emplace_back();
    }
    return parts;
  }

  void notifications_api(const HttpRequest& req, HttpRespond respond) {
    if (notifications == nullptr) {
      return respond(error_response(503, notifications_off.empty() ? "notifications are off" : notifications_off));
    }
    auto parts = path_parts(req.path);  // "v1", ...
    auto store_error = [](const std::string& e) { return error_response(503, e); };
    if (parts.size() == 2 && parts[1] == "notifications") {
      if (req.method != "POST") return respond(method_not_allowed("POST"));
      std::string error;
      auto request = parse_notification_request(req.body, error);
      if (!request) return respond(error_response(400, error));
      notifications->publish(std::move(*request), [respond, store_error](const std::string& e,
                                                                         Notifications::Published p) {
        if (!e.empty()) return respond(store_error(e));
        json::object o;
        o["id"] = p.id;
        o["recipients"] = p.recipients;
        respond(json_response(201, o));
      });
      return;
    }
    for (const auto& part : parts) {
      if (!valid_utf8(part)) return respond(error_response(400, "the path is not valid UTF-8"));
    }
    if (parts.size() >= 4 && parts[1] == "orgs" && parts[3] == "members") {
      const std::string& org = parts[2];
      if (org.empty()) return respond(error_response(400, "missing org id"));
      if (parts.size() == 4) {
        if (req.method != "GET") return respond(method_not_allowed("GET"));
        notifications->members(org, [respond, org, store_error](const std::string& e, std::vector<Membership> ms) {
          if (!e.empty()) return respond(store_error(e));
          json::array members;
          for (const auto& m : ms) members.push_back(json::object{{"user", m.user}, {"role", m.role}});
          respond(json_response(200, json::object{{"org", org}, {"members", std::move(members)}}));
        });
        return;
      }
      if (parts.size() != 5 || parts[4].empty()) return respond(error_response(404, "no such endpoint"));
      const std::string& user = parts[4];
      if (req.method == "PUT") {
        boost::system::error_code ec;
        json::value v = json::parse(req.body, ec);
        if (ec) return respond(error_response(400, "the body is not JSON: " + ec.message()));
        const json::value* role = v.is_object() ? v.as_object().if_contains("role") : nullptr;
        if (role == nullptr || !role->is_string() || !valid_utf8(role->as_string())) {
          return respond(error_response(400, "role: required, a string"));
        }
        for (const auto& [key, _] : v.as_object()) {
          if (key != "role") return respond(error_response(400, "unknown field '" + std::string(valid_utf8(key) ? key : "?") + "'"));
        }
        Membership m{user, org, std::string(role->as_string())};
        notifications->set_member(m, [respond, m, store_error](const std::string& e) {
          if (!e.empty()) return respond(store_error(e));
          respond(json_response(200, json::object{{"org", m.org}, {"user", m.user}, {"role", m.role}}));
        });
        return;
      }
      if (req.method == "DELETE") {
        notifications->remove_member(org, user, [respond, org, user, store_error](const std::string& e, bool removed) {
          if (!e.empty()) return respond(store_error(e));
          if (!removed) return respond(error_response(404, "'" + user + "' is not a member of '" + org + "'"));
          respond(json_response(200, json::object{{"org", org}, {"user", user}, {"deleted", true}}));
        });
        return;
      }
      return respond(method_not_allowed("PUT, DELETE"));
    }
    if (parts.size() >= 4 && parts[1] == "users" && parts[3] == "notifications") {
      const std::string& user = parts[2];
      if (user.empty()) return respond(error_response(400, "missing user id"));
      if (parts.size() == 4) {
        if (req.method != "GET") return respond(method_not_allowed("GET"));
        std::optional<std::int64_t> before;
        std::size_t limit = 50;
        if (auto b = req.query.find("before"); b != req.query.end()) {
          before = parse_id(b->second);
          if (!before) return respond(error_response(400, "before: must be a notification id"));
        }
        if (auto l = req.query.find("limit"); l != req.query.end()) {
          auto n = parse_id(l->second);
          if (!n || *n > 200) return respond(error_response(400, "limit: must be 1..200"));
          limit = static_cast<std::size_t>(*n);
        }
        notifications->list(user, before, limit, [respond, store_error](const std::string& e, NotificationPage page) {
          if (!e.empty()) return respond(store_error(e));
          respond(json_response(200, to_json(page)));
        });
        return;
      }
      if (parts.size() == 5 && parts[4] == "read") {
        if (req.method != "POST") return respond(method_not_allowed("POST"));
        boost::system::error_code ec;
        json::value v = json::parse(req.body, ec);
        if (ec || !v.is_object()) return respond(error_response(400, "the body must be {\"ids\": [...]} or {\"all\": true}"));
        const auto& o = v.as_object();
        bool all = false;
        std::vector<std::int64_t> ids;
        if (const auto* a = o.if_contains("all")) {
          if (!a->is_bool()) return respond(error_response(400, "all: must be true"));
          all = a->as_bool();
        }
        if (const auto* list = o.if_contains("ids")) {
          if (!list->is_array()) return respond(error_response(400, "ids: must be an array of notification ids"));
          for (const auto& id : list->as_array()) {
            if (!id.is_int64() && !id.is_uint64()) return respond(error_response(400, "ids: must be an array of notification ids"));
            ids.push_back(id.to_number<std::int64_t>());
          }
          if (ids.size() > 1000) return respond(error_response(400, "ids: at most 1000 at once"));
        }
        if (!all && !o.contains("ids")) return respond(error_response(400, "give ids or all: true"));
        notifications->mark_read(user, std::move(ids), all, "",
                                 [respond, store_error](const std::string& e, Notifications::ReadResult r) {
                                   if (!e.empty()) return respond(store_error(e));
                                   respond(json_response(200, to_json(r)));
                                 });
        return;
      }
    }
    respond(error_response(404, "no such endpoint"));
  }

  HttpResponse api(const HttpRequest& req) {
    if (req.path == "/v1/emit") {
      if (req.method != "POST") return method_not_allowed("POST");
      return emit(req.body);
    }
    if (req.method != "GET") return method_not_allowed("GET");
    // Ids come percent-decoded from the path or query: any bytes. They are
    // echoed in the JSON, which must stay valid UTF-8.
    constexpr std::string_view users_prefix = "/v1/presence/users/";
    if (req.path.starts_with("/v1/presence/")) {
      if (auto why = presence_unavailable()) return error_response(503, *why);
    }
    if (req.path.starts_with(users_prefix)) {
      std::string user = req.path.substr(users_prefix.size());
      if (user.empty()) return error_response(400, "missing user id");
      if (!valid_utf8(user)) return error_response(400, "user id is not valid UTF-8");
      if (auto p = server->presence().get(user)) return json_response(200, presence_json(*p, true));
      if (auto why = presence_unavailable()) return error_response(503, *why);
      json::object o;
      o["user"] = user;
      o["online"] = false;
      o["connections"] = 0;
      return json_response(200, o);
    }
    if (req.path == "/v1/presence/online") {
      auto org = req.query.find("org");
      if (org == req.query.end() || org->second.empty()) {
        return error_response(400, "missing query parameter 'org'");
      }
      if (!valid_utf8(org->second)) return error_response(400, "org is not valid UTF-8");
      json::array users;
      for (const auto& p : server->presence().online_in_org(org->second)) {
        users.push_back(presence_json(p, false));
      }
      if (auto why = presence_unavailable()) return error_response(503, *why);
      json::object o;
      o["org"] = org->second;
      o["users"] = std::move(users);
      return json_response(200, o);
    }
    if (req.path == "/v1/webhooks/dead") {
      std::size_t limit = 100;
      if (auto l = req.query.find("limit"); l != req.query.end()) {
        try {
          limit = std::clamp<std::size_t>(std::stoul(l->second), 1, 1000);
        } catch (const std::exception&) {
          return error_response(400, "limit must be a number");
        }
      }
      json::array events;
      for (const auto& d : server->presence().dead_letters(limit)) events.push_back(dead_letter_json(d));
      json::object o;
      o["events"] = std::move(events);
      return json_response(200, o);
    }
    return error_response(404, "no such endpoint");
  }
};

ServerOptions server_options(const Config& c) {
  ServerOptions o;
  o.threads = c.server.threads;
  o.path = c.server.path;
  o.ping_interval = Millis(c.server.ping_interval_ms);
  o.ping_timeout = Millis(c.server.ping_timeout_ms);
  o.connect_timeout = Millis(c.server.connect_timeout_ms);
  o.max_payload = c.server.max_payload;
  o.max_http_body = c.api.max_body;
  o.max_write_queue_bytes = c.server.max_write_queue_bytes;
  o.max_unauthenticated_bytes = c.server.max_unauthenticated_bytes;
  o.max_unauthenticated_total = c.server.max_unauthenticated_total;
  o.cors.origins = c.server.cors_origins;
  o.cors.credentials = c.server.cors_credentials;
  if (c.server.recovery_ms > 0) {
    o.recovery.enabled = true;
    o.recovery.max_disconnection = Millis(c.server.recovery_ms);
  }
  o.presence.enabled = true;
  o.presence.grace = Millis(c.presence.grace_ms);
  if (c.cluster.redis_url.empty()) {
    o.presence.store = open_sqlite_store(presence_store_url(c).substr(7));
  }  // else presence lives in Redis (Daemon joins the cluster)
  auto& w = o.presence.webhooks;
  w.url = c.webhooks.url;
  w.secret = c.webhooks.secret;
  w.connect_timeout = Millis(c.webhooks.connect_timeout_ms);
  w.request_timeout = Millis(c.webhooks.timeout_ms);
  w.batch_max = c.webhooks.batch_max;
  w.backoff_min = Millis(c.webhooks.backoff_min_ms);
  w.backoff_max = Millis(c.webhooks.backoff_max_ms);
  w.max_age = std::chrono::seconds(c.webhooks.max_age_s);
  w.ca_file = c.webhooks.ca_file;
  return o;
}

namespace {

void install_bench(Server& server) {
  server.use([](Socket& socket, Next next) {
    auto* token = socket.auth().if_contains("token");
    if (!token || !token->is_string() || token->as_string().empty()) {
      return next(auth_error("bench mode: send the user id as auth.token", "auth_required"));
    }
    socket.set_user(User{std::string(token->as_string()), {}, {}});
    socket.join("all");
    next(std::nullopt);
  });
  server.on_connection([&server](Socket& socket) {
    socket.on("bcast", [&server](Args args, Ack) { server.to("all").emit("msg", std::move(args)); });
    socket.on("echo", [](Args args, Ack ack) {
      if (ack) ack(std::move(args));
    });
  });
}

// The identity middleware from the [auth] table (before the store is
// opened, so that a bad key is what gets reported).
Middleware identity_middleware(const Config::Auth& a) {
  auth::IdentityOptions o;
  if (!a.jwt_secret.empty() || !a.jwt_public_key_file.empty()) {
    auth::JwtOptions j;
    j.algorithm = a.jwt_algorithm == "RS256" ? auth::JwtAlgorithm::rs256 : auth::JwtAlgorithm::hs256;
    j.secret = a.jwt_secret;
    if (j.algorithm == auth::JwtAlgorithm::rs256) j.public_key_pem = read_file(a.jwt_public_key_file);
    j.leeway = std::chrono::seconds(a.jwt_leeway_s);
    j.issuer = a.jwt_issuer;
    j.audience = a.jwt_audience;
    o.jwt = std::move(j);
  }
  if (!a.session_secrets.empty()) {
    auth::SessionOptions session;
    session.secrets = a.session_secrets;
    session.cookie = a.session_cookie;
    session.redis_url = a.session_redis_url;
    session.prefix = a.session_prefix;
    session.user_field = a.session_user_field;
    o.session = std::move(session);
  }
  o.allow_anonymous = a.allow_anonymous;
  try {
    return auth::identity_middleware(std::move(o));
  } catch (const auth::OptionsError& e) {
    const std::string key = e.option == "session.redis_url" ? "auth.session_redis_url" : "auth";
    throw ConfigError(key + ": " + e.reason);
  }
}

}  // namespace

Daemon::Daemon(const Config& config, Mode mode) : state_(std::make_shared<State>()) {
  auto& st = *state_;
  st.config = config;
  const auto& a = config.auth;
  Middleware identify = identity_middleware(a);
  auto options = server_options(config);
  if (mode == Mode::bench && options.presence.enabled && options.presence.webhooks.url.empty()) {
    // Benchmarks measure with the webhook outbox on: events are stored,
    // batched and signed, then dropped instead of sent.
    options.presence.webhooks.discard = true;
    options.presence.webhooks.secret = "bench";
  }
  server_ = std::make_unique<Server>(std::move(options));
  st.server = server_.get();
  if (mode == Mode::bench) {
    spdlog::warn("benchmark mode: tokens are NOT verified (loopback only)");
    install_bench(*server_);
    join_cluster(config);
    return;
  }
  if (a.jwt_secret.empty() && a.jwt_public_key_file.empty() && a.session_secrets.empty()) {
    spdlog::warn("no auth configured (auth.jwt_secret, auth.jwt_public_key_file or "
                 "auth.session_secret): sockets are anonymous and presence is not tracked");
  }

  auto state = state_;
  server_->use(std::move(identify));
  server_->on_connection([state](Socket& socket) { state->install_handlers(socket); });
  server_->add_async_http_route("/v1/", [state](const HttpRequest& req, HttpRespond respond) {
    state->api_async(req, std::move(respond));
  });
  // Alive: the process serves HTTP. Whether its dependencies answer is
  // /readyz's question (docs/api.md).
  server_->add_http_route("/healthz", [](const HttpRequest& req) {
    if (req.method != "GET") return method_not_allowed("GET");
    return HttpResponse{.status = 200, .body = R"({"status":"ok"})"};
  });
  // Ready (200) when every dependency that is configured answers; else 503
  // naming each that does not (docs/api.md).
  server_->add_http_route("/readyz", [state](const HttpRequest& req) {
    if (req.method != "GET") return method_not_allowed("GET");
    return state->readiness();
  });
  join_cluster(config);
  start_notifications(config, mode);
  OperationsOptions ops;
  ops.admin_key = config.admin.key;
  ops.metrics = config.metrics.enabled;
  ops.demo = mode == Mode::demo;
  ops.demo_jwt_secret = config.auth.jwt_secret;
  ops.node_id = cluster_ ? cluster_->node_id() : node_name();
  ops.address = config.server.listen;
  ops.redis_configured = cluster_ != nullptr;
  ops.postgres_configured = !config.notifications.postgres_url.empty() ||
                            notifications_store_url(config).starts_with("postgres");
  operations_ = std::make_unique<Operations>(*server_, notifications_.get(), std::move(ops));
  state_->operations = operations_.get();
}

// The demo organisations of docs/notifications.md ("Demo"): Minnie at
// Disney's order desk buys from Looney Tunes.
const std::vector<Membership>& demo_memberships() {
  static const std::vector<Membership> members = {
      {"foghorn", "looney-tunes", "admin"}, {"daffy", "looney-tunes", "admin"},
      {"bugs", "looney-tunes", "developer"}, {"mickey", "disney", "admin"},
      {"minnie", "disney", "order-desk"},
  };
  return members;
}

void Daemon::start_notifications(const Config& config, Mode mode) {
  const auto& n = config.notifications;
  if (!n.enabled) {
    state_->notifications_off = "notifications are off (notifications.enabled = false)";
    return;
  }
  std::string store = notifications_store_url(config);
  if (cluster_ && store.starts_with("sqlite:")) {
    // Each node's file would hold a different history: refuse to pretend.
    state_->notifications_off =
        "notifications need a store shared by the cluster: set store.url to a postgresql:// URL";
    spdlog::warn("notifications are off: {}", state_->notifications_off);
    return;
  }
  NotificationOptions o;
  o.store_url = store;
  o.postgres_url = n.postgres_url;
  o.channel = n.channel;
  o.max_age = std::chrono::hours(24 * n.max_age_days);
  o.max_per_user = n.max_per_user;
  try {
    notifications_ = std::make_unique<Notifications>(*server_, std::move(o));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  state_->notifications = notifications_.get();
  if (mode == Mode::demo) {
    for (const auto& m : demo_memberships()) {
      notifications_->set_member(m, [m](const std::string& e) {
        if (!e.empty()) spdlog::error("demo: cannot add {} to {}: {}", m.user, m.org, e);
      });
    }
    spdlog::info("demo: organisations looney-tunes (foghorn, daffy: admin; bugs: developer) and "
                 "disney (mickey: admin; minnie: order-desk)");
  }
}

void Daemon::join_cluster(const Config& config) {
  const auto& c = config.cluster;
  if (c.redis_url.empty()) return;
  ClusterOptions o;
  o.redis_url = c.redis_url;
  o.node_id = c.node_id;
  o.lease = Millis(c.lease_ms);
  o.adapter_key = c.adapter_key;
  o.prefix = c.prefix;
  o.requests_timeout = Millis(c.requests_timeout_ms);
  try {
    cluster_ = std::make_unique<Cluster>(*server_, std::move(o));
    state_->clustered = true;
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  spdlog::info("cluster: node {} on Redis (prefix '{}', adapter key '{}', lease {} ms)",
               cluster_->node_id(), c.prefix, c.adapter_key, c.lease_ms);
}

Daemon::~Daemon() = default;

}  // namespace rollcall::app
