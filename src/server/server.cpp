// Server: owns the loops, the endpoints and the namespaces.
#include "server/server_impl.hpp"
#include "server/http_server.hpp"

#include "engineio/frame.hpp"
#include "engineio/loop.hpp"
#include "presence/tracker.hpp"

#include <shared_mutex>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <map>
#include <mutex>
#include <thread>

namespace rollcall {

namespace asio = boost::asio;

// --- engine echo (conformance) -------------------------------------------

namespace {

class EchoHandler final : public engineio::SessionHandler {
 public:
  // Plain Engine.IO has no login: the small pre-authentication limits
  // would only cap the echo's messages below max_payload.
  explicit EchoHandler(engineio::Session& s) : session_(s) { s.budget().authenticated(); }
  void on_message(std::string_view data, bool binary) override {
    session_.send(binary ? make_binary_frame(data) : make_text_frame('4', data));
  }
  void on_close(engineio::CloseReason) override {}

 private:
  engineio::Session& session_;
};

}  // namespace

// --- Server::Impl ----------------------------------------------------------

Server::Impl::Impl(ServerOptions o) : detail::Core(std::move(o)) {
  auto engine = std::make_unique<engineio::Engine>();
  engine->path = options.path;
  engine->options = engineio::Options::from(options);
  engine->make_handler = [this](engineio::Session& s) { return make_client(s); };
  engines.push_back(std::move(engine));
  if (options.presence.enabled) {
    auto* nsp = &get_or_create(options.presence.nsp);
    auto org_broadcast = [nsp](const std::string& org, const std::string& user, const char* status) {
      boost::json::object o;
      o["user"] = user;
      o["status"] = status;
      o["org"] = org;
      nsp->to(org_room(org)).emit("presence", Args::of(o));
    };
    presence = std::make_unique<detail::PresenceTracker>(options.presence, org_broadcast);
    // Presence follows sockets through the public observer hook.
    presence_observer = socket_observers.size();
    socket_observers.push_back(
        {[p = presence.get()](Socket& s) { p->socket_connected(s); },
         [p = presence.get()](Socket& s, const std::string&) { p->socket_disconnected(s); }});
  }
  http = std::make_unique<HttpServer>(loops, engines, routes, options.max_http_body);
  // Idle loops stay alive until stop() releases these.
  for (auto& loop : loops) guards.push_back(asio::make_work_guard(loop->ioc));
}

Server::Impl::~Impl() {
  // Sessions reference engines and namespaces: drop them first.
  for (auto& loop : loops) loop->sessions.clear();
}

void Server::Impl::stop(Millis drain) {
  if (stopping.exchange(true)) return;
  http->stop_accepting();
  for (auto& loop_ptr : loops) {
    Loop* loop = loop_ptr.get();
    asio::post(loop->ioc, [loop, drain] {
      loop->stopping = true;
      std::vector<std::shared_ptr<engineio::Session>> sessions;
      for (auto& [sid, s] : loop->sessions) sessions.push_back(s);
      for (auto& s : sessions) s->close(engineio::CloseReason::server_shutting_down);
      // Stop once every session is gone (their last frames written), or at
      // the drain deadline.
      auto deadline = std::chrono::steady_clock::now() + drain;
      auto timer = std::make_shared<asio::steady_timer>(loop->ioc);
      auto check = std::make_shared<std::function<void()>>();
      *check = [loop, timer, deadline, weak = std::weak_ptr<std::function<void()>>(check)] {
        bool idle = loop->sessions.empty() && loop->websockets == 0;
        if (idle || std::chrono::steady_clock::now() >= deadline) {
          loop->ioc.stop();
          return;
        }
        timer->expires_after(std::chrono::milliseconds(20));
        timer->async_wait([weak](boost::system::error_code) {
          if (auto c = weak.lock()) (*c)();
        });
      };
      loop->shutdown_check = check;
      (*check)();
    });
  }
  for (auto& g : guards) g.reset();
}

// --- Server ------------------------------------------------------------------

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;

Namespace& Server::of(std::string_view name) { return impl_->get_or_create(name); }

Namespace* Server::find_namespace(std::string_view name) noexcept {
  std::shared_lock lock(impl_->nsp_mutex);
  auto it = impl_->namespaces.find(std::string(name));
  return it == impl_->namespaces.end() ? nullptr : it->second.get();
}

Namespace& Server::of(
    std::function<bool(const std::string& name, const boost::json::object& auth)> predicate) {
  auto parent = std::make_unique<detail::NamespaceImpl>(*impl_, "<dynamic>");
  parent->predicate = std::move(predicate);
  impl_->dynamic_parents.push_back(std::move(parent));
  return *impl_->dynamic_parents.back();
}

void Server::on_disconnect(DisconnectHandler handler) {
  impl_->disconnect_handlers.push_back(std::move(handler));
}

void Server::set_cluster_adapter(std::shared_ptr<ClusterAdapter> adapter) {
  if (impl_->running) throw std::logic_error("set_cluster_adapter: the server is running");
  if (impl_->cluster) throw std::logic_error("set_cluster_adapter: an adapter is set already");
  impl_->cluster = std::move(adapter);
  std::vector<detail::NamespaceImpl*> existing;
  {
    std::shared_lock lock(impl_->nsp_mutex);
    for (auto& [name, nsp] : impl_->namespaces) existing.push_back(nsp.get());
  }
  for (auto* nsp : existing) impl_->cluster->namespace_created(*nsp);
}

void Server::observe_sockets(ConnectionHandler connected, DisconnectHandler disconnected) {
  impl_->socket_observers.push_back({std::move(connected), std::move(disconnected)});
}

void Server::add_engine_echo(std::string path, ServerOptions engine_options) {
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  if (path.back() != '/') path += '/';
  auto engine = std::make_unique<engineio::Engine>();
  engine->path = std::move(path);
  engine->options = engineio::Options::from(engine_options);
  engine->make_handler = [](engineio::Session& s) -> std::unique_ptr<engineio::SessionHandler> {
    return std::make_unique<EchoHandler>(s);
  };
  impl_->engines.push_back(std::move(engine));
}

Presence& Server::presence() {
  if (impl_->custom_presence) return *impl_->custom_presence;
  if (!impl_->presence) throw std::logic_error("presence is disabled (ServerOptions::presence.enabled)");
  return *impl_->presence;
}

void Server::set_presence(std::shared_ptr<Presence> presence) {
  if (impl_->running) throw std::logic_error("set_presence: the server is running");
  if (impl_->presence) {
    impl_->socket_observers.erase(impl_->socket_observers.begin() +
                                  static_cast<std::ptrdiff_t>(impl_->presence_observer));
    impl_->presence.reset();
  }
  impl_->custom_presence = std::move(presence);
}

void Server::add_http_route(std::string prefix, HttpHandler handler) {
  add_async_http_route(std::move(prefix), [handler = std::move(handler)](const HttpRequest& req,
                                                                         HttpRespond respond) {
    respond(handler(req));
  });
}

void Server::add_async_http_route(std::string prefix, AsyncHttpHandler handler) {
  if (impl_->running) throw std::logic_error("add_http_route: the server is running");
  impl_->routes.emplace_back(std::move(prefix), std::move(handler));
}

Notifications& Server::notifications() {
  auto* n = impl_->notifications.load();
  if (n == nullptr) {
    throw std::logic_error("notifications are off: make a rollcall::Notifications for this server "
                           "(<rollcall/notifications.hpp>)");
  }
  return *n;
}

void Server::set_notifications(Notifications* notifications) noexcept { impl_->notifications = notifications; }

void Server::listen(const std::string& host, std::uint16_t port) { impl_->http->listen(host, port); }
std::uint16_t Server::port() const noexcept { return impl_->http->port(); }

void Server::run() {
  impl_->running = true;
  if (impl_->presence) impl_->presence->start();
  auto run_loop = [](Loop* loop) {
    set_current_loop(loop);
    loop->measure_lag();
    for (;;) {
      try {
        loop->ioc.run();
        break;
      } catch (const std::exception& e) {
        // A bug escaped a handler: log it and keep the loop serving.
        spdlog::error("loop {}: unhandled exception: {}", loop->index, e.what());
      }
    }
    set_current_loop(nullptr);
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl_->loops.size(); ++i) {
    threads.emplace_back(run_loop, impl_->loops[i].get());
  }
  run_loop(impl_->loops[0].get());
  for (auto& t : threads) t.join();
  if (impl_->presence) impl_->presence->stop();
  for (auto& loop : impl_->loops) {
    loop->shutdown_check.reset();
    loop->sessions.clear();
  }
  impl_->running = false;
}

void Server::stop(Millis drain) { impl_->stop(drain); }

void Server::collect_stats(std::function<void(ServerStats)> cb) const {
  struct Gather {
    std::mutex mutex;
    std::map<std::string, ServerStats::Namespace> by_name;
    std::size_t left = 0;
    std::function<void(ServerStats)> cb;
  };
  auto g = std::make_shared<Gather>();
  g->left = impl_->loops.size();
  g->cb = std::move(cb);
  std::vector<detail::NamespaceImpl*> nsps;
  {
    std::shared_lock lock(impl_->nsp_mutex);
    for (auto& [name, nsp] : impl_->namespaces) nsps.push_back(nsp.get());
  }
  const Impl* impl = impl_.get();
  for (auto& loop_ptr : impl_->loops) {
    Loop* loop = loop_ptr.get();
    asio::post(loop->ioc, [g, nsps, loop, impl] {
      std::vector<ServerStats::Namespace> mine;
      for (auto* nsp : nsps) {
        ServerStats::Namespace n;
        for (auto& [id, socket] : nsp->local(*loop).sockets) {
          (socket->transport() == "websocket" ? n.websocket : n.polling) += 1;
        }
        if (n.websocket + n.polling > 0) {
          n.name = nsp->name();
          mine.push_back(std::move(n));
        }
      }
      bool last = false;
      {
        std::lock_guard lock(g->mutex);
        for (auto& n : mine) {
          auto& into = g->by_name[n.name];
          into.name = n.name;
          into.polling += n.polling;
          into.websocket += n.websocket;
        }
        last = --g->left == 0;
      }
      if (!last) return;
      ServerStats stats;
      for (auto& [name, n] : g->by_name) stats.namespaces.push_back(std::move(n));
      for (const auto& l : impl->loops) {
        stats.bytes_received += l->bytes_in.load(std::memory_order_relaxed);
        stats.bytes_sent += l->bytes_out.load(std::memory_order_relaxed);
        l->lag.add_to(stats.loop_lag);
      }
      g->cb(std::move(stats));
    });
  }
}

const ServerOptions& Server::options() const noexcept { return impl_->options; }
unsigned Server::threads() const noexcept { return static_cast<unsigned>(impl_->loops.size()); }

}  // namespace rollcall
