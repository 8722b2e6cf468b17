// The server the Node interop tests drive: the public C++ API with the
// handlers described in tests/interop/README.md.
#include <rollcall/adapter.hpp>
#include <rollcall/asio.hpp>
#include <rollcall/cluster.hpp>
#include <rollcall/server.hpp>

#include <boost/asio/post.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <regex>
#include <thread>

using rollcall::Ack;
using rollcall::Args;
using rollcall::Socket;

namespace {

std::string str(const Args& a, std::size_t i) {
  return i < a.size() && a[i].is_string() ? std::string(a[i].as_string()) : std::string();
}

// Copies args[from..] into a new Args, keeping binary attachments.
Args tail(const Args& a, std::size_t from) {
  Args out;
  for (std::size_t i = from; i < a.size(); ++i) out.push(a[i]);
  out.attachments() = a.attachments();
  return out;
}

// Sockets of every namespace, as counted by an observer (observe_sockets).
std::atomic<long> observed_sockets{0};

boost::json::object welcome(Socket& s) {
  boost::json::object o;
  o["id"] = s.id();
  o["recovered"] = s.recovered();
  o["auth"] = s.auth();
  o["nsp"] = s.nsp();
  return o;
}

void install_echo(Socket& socket) {
  socket.on("echo", [&socket](Args args, Ack ack) {
    if (ack) ack(std::move(args));
    else socket.emit("echo", std::move(args));
  });
}

void install_root(rollcall::Server& io, Socket& socket) {
  install_echo(socket);
  socket.on("join", [&socket](Args args, Ack ack) {
    socket.join(str(args, 0));
    auto rooms = socket.rooms();
    std::sort(rooms.begin(), rooms.end());
    boost::json::array arr(rooms.begin(), rooms.end());
    if (ack) ack(Args::of(arr));
  });
  socket.on("leave", [&socket](Args args, Ack ack) {
    socket.leave(str(args, 0));
    auto rooms = socket.rooms();
    std::sort(rooms.begin(), rooms.end());
    boost::json::array arr(rooms.begin(), rooms.end());
    if (ack) ack(Args::of(arr));
  });
  socket.on("to-rooms", [&io](Args args, Ack ack) {
    if (args.size() < 2 || !args[0].is_array()) return;
    std::optional<rollcall::BroadcastOperator> op;
    for (const auto& r : args[0].as_array()) {
      if (!r.is_string()) continue;
      std::string room(r.as_string());
      op = op ? op->to(std::move(room)) : io.of("/").to(std::move(room));
    }
    if (op) op->emit(str(args, 1), tail(args, 2));
    if (ack) ack();
  });
  socket.on("broadcast", [&socket](Args args, Ack ack) {
    socket.broadcast().emit(str(args, 0), tail(args, 1));
    if (ack) ack();
  });
  socket.on("except", [&io](Args args, Ack ack) {
    io.of("/").to(str(args, 0)).except(str(args, 1)).emit(str(args, 2), tail(args, 3));
    if (ack) ack();
  });
  socket.on("volatile", [&socket](Args args, Ack) {
    socket.emit(str(args, 0), tail(args, 1), {.volatile_ = true});
  });
  socket.on("request-ack", [&socket](Args args, Ack ack) {
    auto timeout = rollcall::Millis(args.size() > 2 && args[2].is_number() ? args[2].to_number<long>() : 1000);
    Args req;
    if (args.size() > 1) req.push(args[1]);
    req.attachments() = args.attachments();
    socket.emit_with_ack(str(args, 0), std::move(req), timeout,
                         [ack](std::error_code ec, Args response) mutable {
                           if (!ack) return;
                           boost::json::object o;
                           if (ec) {
                             o["ok"] = false;
                             o["error"] = ec == std::errc::timed_out ? "timeout" : "disconnected";
                             ack(Args::of(o));
                             return;
                           }
                           o["ok"] = true;
                           o["response"] = response.values();
                           Args out;
                           out.push(std::move(o));
                           out.attachments() = response.attachments();
                           ack(std::move(out));
                         });
  });
  socket.on("disconnect-me", [&socket](Args args, Ack) {
    bool close = args.size() > 0 && args[0].is_bool() && args[0].as_bool();
    socket.disconnect(close);
  });
  socket.on("disconnect-room", [&io](Args args, Ack ack) {
    io.of("/").in(str(args, 0)).disconnect_sockets(false);
    if (ack) ack();
  });
  // Keeps the socket's loop busy for args[0] ms (at most 5000): timers and
  // requests due meanwhile are served together afterwards, as on a loaded
  // server.
  socket.on("stall", [](Args args, Ack ack) {
    auto ms = args.size() > 0 && args[0].is_int64() ? args[0].as_int64() : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 0, 5000)));
    if (ack) ack();
  });
  // fetch_sockets of args[0] (a room; none: the whole namespace): acks
  // [{id, rooms, data, handshake}] sorted by id.
  socket.on("fetch", [&io](Args args, Ack ack) {
    auto reply = [ack](std::vector<rollcall::SocketSnapshot> sockets) mutable {
      std::sort(sockets.begin(), sockets.end(), [](auto& a, auto& b) { return a.id < b.id; });
      boost::json::array out;
      for (auto& s : sockets) {
        boost::json::array rooms;
        for (auto& r : s.rooms) rooms.emplace_back(r);
        out.push_back(boost::json::object{{"id", s.id}, {"rooms", std::move(rooms)}, {"data", s.data},
                                          {"handshake", s.handshake}});
      }
      if (ack) ack(Args::of(out));
    };
    if (args.size() > 0 && args[0].is_string()) {
      io.of("/").in(str(args, 0)).fetch_sockets(reply);
    } else {
      io.of("/").fetch_sockets(reply);
    }
  });
  // emit_with_ack of "ask" to the room args[0], timeout args[1] ms: acks
  // {timedOut, responses: [the first argument of each answer]}.
  socket.on("ask-room", [&io](Args args, Ack ack) {
    auto timeout = std::chrono::milliseconds(args.size() > 1 && args[1].is_int64() ? args[1].as_int64() : 1000);
    io.of("/").to(str(args, 0)).emit_with_ack(
        "ask", Args::of("question"), timeout, [ack](std::error_code ec, std::vector<Args> responses) mutable {
          boost::json::array out;
          for (auto& r : responses) out.push_back(r.size() > 0 ? r[0] : boost::json::value());
          if (ack) ack(Args::of(boost::json::object{{"timedOut", ec == std::errc::timed_out}, {"responses", out}}));
        });
  });
  // server_side_emit_with_ack("who", args[0]) with a 1 s timeout: acks
  // {timedOut, responses}.
  socket.on("ask-servers", [&io](Args args, Ack ack) {
    io.of("/").server_side_emit_with_ack(
        "who", Args::of(args.size() > 0 ? args[0] : boost::json::value()), std::chrono::milliseconds(1000),
        [ack](std::error_code ec, std::vector<Args> responses) mutable {
          boost::json::array out;
          for (auto& r : responses) out.push_back(r.size() > 0 ? r[0] : boost::json::value());
          if (ack) ack(Args::of(boost::json::object{{"timedOut", ec == std::errc::timed_out}, {"responses", out}}));
        });
  });
  // sockets_join of the room args[1] for every socket in args[0], on every node.
  socket.on("join-room-everywhere", [&io](Args args, Ack ack) {
    io.of("/").in(str(args, 0)).sockets_join(str(args, 1));
    if (ack) ack();
  });
  socket.on("set-data", [&socket](Args args, Ack ack) {
    if (args.size() > 0 && args[0].is_object()) socket.data() = args[0].as_object();
    if (ack) ack();
  });
  socket.on("stats", [&io](Args, Ack ack) {
    boost::json::object o;
    o["sockets"] = io.of("/").size();
    o["observed"] = observed_sockets.load();
    if (ack) ack(Args::of(o));
  });
}

// Everything the test server serves, on one Server.
void configure(rollcall::Server& io) {
  io.of("/").on_connection([&io](Socket& socket) {
    install_root(io, socket);
    socket.emit("welcome", Args::of(welcome(socket)));
  });
  io.of("/admin")
      .use([](Socket& socket, rollcall::Next next) {
        auto* token = socket.auth().if_contains("token");
        if (token && token->is_string() && token->as_string() == "secret") {
          next(std::nullopt);
          return;
        }
        boost::json::object data;
        data["code"] = 401;
        next(rollcall::ConnectError{"unauthorized", data});
      })
      .on_connection([](Socket& socket) {
        install_echo(socket);
        socket.emit("welcome", Args::of(welcome(socket)));
      });
  // Middlewares that answer later: from another thread (next is posted to
  // the socket's loop), and through the socket's executor.
  io.of("/async")
      .use([](Socket& socket, rollcall::Next next) {
        auto* token = socket.auth().if_contains("token");
        const bool ok = token && token->is_string() && token->as_string() == "secret";
        std::thread([next = std::move(next), ok] {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          if (ok) return next(std::nullopt);
          boost::json::object data;
          data["code"] = 401;
          next(rollcall::ConnectError{"unauthorized", data});
        }).detach();
      })
      .use([](Socket& socket, rollcall::Next next) {
        boost::asio::post(rollcall::executor(socket), [next = std::move(next)] { next(std::nullopt); });
      })
      .on_connection([](Socket& socket) {
        install_echo(socket);
        socket.emit("welcome", Args::of(welcome(socket)));
      });
  static const std::regex dynamic("^/dyn-[a-z0-9]+$");
  io.of([](const std::string& name, const boost::json::object&) {
      return std::regex_match(name, dynamic);
    })
      .on_connection([](Socket& socket) {
        install_echo(socket);
        socket.emit("welcome", Args::of(welcome(socket)));
      });
  // Server-side events between the nodes of --pair: answers with this
  // node's port.
  io.of("/").on_server_side("who", [&io](Args args, Ack ack) {
    if (ack) ack(Args::of(boost::json::object{{"port", io.port()}, {"asked", args.size() > 0 ? args[0] : nullptr}}));
  });
  io.observe_sockets([](Socket&) { ++observed_sockets; },
                     [](Socket&, const std::string&) { --observed_sockets; });
  io.on_disconnect([&io](Socket& socket, const std::string& reason) {
    boost::json::object o;
    o["id"] = socket.id();
    o["nsp"] = socket.nsp();
    o["reason"] = reason;
    io.of("/").to("observers").emit("disconnected", Args::of(o));
  });
}

// Joins two servers of this process as two nodes of a cluster: what one
// hands to its adapter is applied to the other, this node only.
class LoopbackAdapter final : public rollcall::ClusterAdapter {
 public:
  explicit LoopbackAdapter(rollcall::Server& peer) : peer_(peer) {}
  void namespace_created(rollcall::Namespace&) override {}
  void broadcast(const rollcall::ClusterPacket& p, const rollcall::Target& t) override {
    auto [event, args] = split(p);
    peer_.of(p.nsp).target(local(t)).emit(event, std::move(args));
  }
  void sockets_join(const std::string& nsp, const rollcall::Target& t, const std::string& room) override {
    peer_.of(nsp).target(local(t)).sockets_join(room);
  }
  void sockets_leave(const std::string& nsp, const rollcall::Target& t, const std::string& room) override {
    peer_.of(nsp).target(local(t)).sockets_leave(room);
  }
  void disconnect_sockets(const std::string& nsp, const rollcall::Target& t, bool close) override {
    peer_.of(nsp).target(local(t)).disconnect_sockets(close);
  }
  void fetch_sockets(const std::string& nsp, const rollcall::Target& t, rollcall::FetchCallback cb) override {
    peer_.of(nsp).target(local(t)).fetch_sockets(std::move(cb));
  }
  void broadcast_with_ack(const rollcall::ClusterPacket& p, const rollcall::Target& t, rollcall::Millis timeout,
                          rollcall::BroadcastAckCallback cb) override {
    auto [event, args] = split(p);
    peer_.of(p.nsp).target(local(t)).emit_with_ack(event, std::move(args), timeout, std::move(cb));
  }
  void server_side_emit(const std::string& nsp, const std::string& event, Args args, rollcall::Millis,
                        rollcall::BroadcastAckCallback cb) override {
    Ack ack;
    if (cb) ack = Ack([cb](Args answer) { cb({}, {std::move(answer)}); });
    peer_.of(nsp).deliver_server_side(event, std::move(args), ack);
  }

 private:
  static rollcall::Target local(rollcall::Target t) {
    t.local = true;
    return t;
  }
  static std::pair<std::string, Args> split(const rollcall::ClusterPacket& p) {
    Args args;
    for (std::size_t i = 1; i < p.data.size(); ++i) args.push(p.data[i]);
    args.attachments() = p.attachments;
    return {p.data.empty() ? std::string() : std::string(p.data[0].as_string()), std::move(args)};
  }
  rollcall::Server& peer_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollcall interop test server"};
  std::string listen = "127.0.0.1:0";
  unsigned threads = 2;
  long ping_interval = 25000, ping_timeout = 20000, recovery_ms = 120000, connect_timeout = 45000;
  std::size_t max_payload = 1000000;
  app.add_option("--listen", listen);
  app.add_option("--threads", threads);
  app.add_option("--ping-interval", ping_interval);
  app.add_option("--ping-timeout", ping_timeout);
  app.add_option("--max-payload", max_payload);
  app.add_option("--recovery-ms", recovery_ms);
  app.add_option("--connect-timeout", connect_timeout);
  bool pair = false;
  app.add_flag("--pair", pair, "run a second server joined by a loopback cluster adapter");
  std::string redis_url, adapter_key = "socket.io", node_id;
  app.add_option("--redis", redis_url, "join the Redis cluster at this URL (rollcall::Cluster)");
  app.add_option("--adapter-key", adapter_key, "the cluster's channel prefix (Node's redis-adapter key)");
  app.add_option("--node-id", node_id, "this node's id in the cluster");
  long lease_ms = 5000;
  app.add_option("--lease-ms", lease_ms, "the cluster lease");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("interop"));  // stdout: "listening" only

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  rollcall::ServerOptions o;
  o.threads = threads;
  o.ping_interval = rollcall::Millis(ping_interval);
  o.ping_timeout = rollcall::Millis(ping_timeout);
  o.max_payload = max_payload;
  o.connect_timeout = rollcall::Millis(connect_timeout);
  o.cors.origins = {"*"};
  if (recovery_ms > 0) {
    o.recovery.enabled = true;
    o.recovery.max_disconnection = rollcall::Millis(recovery_ms);
  }
  rollcall::Server io(o);
  configure(io);
  // --pair: a second server in this process, joined to the first by a
  // loopback cluster adapter (tests of the ClusterAdapter seam with real
  // clients on both "nodes"); its port is printed before "listening".
  std::unique_ptr<rollcall::Server> peer;
  std::thread peer_thread;
  if (pair) {
    peer = std::make_unique<rollcall::Server>(o);
    configure(*peer);
    io.set_cluster_adapter(std::make_shared<LoopbackAdapter>(*peer));
    peer->set_cluster_adapter(std::make_shared<LoopbackAdapter>(io));
    peer->listen("127.0.0.1", 0);
    std::printf("peer %u\n", static_cast<unsigned>(peer->port()));
  }

  std::unique_ptr<rollcall::Cluster> cluster;
  if (!redis_url.empty()) {
    cluster = std::make_unique<rollcall::Cluster>(
        io, rollcall::ClusterOptions{.redis_url = redis_url,
                                     .node_id = node_id,
                                     .lease = std::chrono::milliseconds(lease_ms),
                                     .adapter_key = adapter_key,
                                     .prefix = "rollcall-interop:" + adapter_key,
                                     .requests_timeout = std::chrono::milliseconds(2000)});
  }

  auto colon = listen.rfind(':');
  io.listen(listen.substr(0, colon), static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1))));
  std::printf("listening %u\n", static_cast<unsigned>(io.port()));
  std::fflush(stdout);
  std::thread signal_thread([&io, &peer, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (peer) peer->stop();
    io.stop();
  });
  if (peer) peer_thread = std::thread([&peer] { peer->run(); });
  io.run();
  if (peer_thread.joinable()) peer_thread.join();
  if (cluster) cluster->stop();
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return 0;
}
