// Server: owns the loops, the endpoints and the namespaces.
#include "presence/tracker.hpp"
#include "socketio/core.hpp"
#include "socketio/recovery.hpp"

#include "server/http_server.hpp"
#include "server/loop.hpp"
#include "ws/frame.hpp"

#include <malloc.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <thread>

namespace rollcall {

namespace asio = boost::asio;

// --- frames --------------------------------------------------------------

Frame make_frame(std::string&& buf, bool binary) {
  std::size_t len = buf.size() - kFrameHeadroom;
  std::uint8_t header[kFrameHeadroom];
  std::size_t n = ws::write_header(header, binary ? ws::Opcode::binary : ws::Opcode::text, len);
  std::memcpy(buf.data() + kFrameHeadroom - n, header, n);
  return Frame{std::make_shared<const std::string>(std::move(buf)),
               static_cast<std::uint16_t>(kFrameHeadroom - n),
               static_cast<std::uint16_t>(kFrameHeadroom), binary};
}

Frame make_text_frame(char type, std::string_view data) {
  std::string buf = frame_buffer(data.size() + 1);
  buf += type;
  buf += data;
  return make_frame(std::move(buf), false);
}

Frame make_binary_frame(std::string_view bytes) {
  std::string buf = frame_buffer(bytes.size());
  buf += bytes;
  return make_frame(std::move(buf), true);
}

// --- loops ---------------------------------------------------------------

namespace {
thread_local Loop* t_current_loop = nullptr;
}

Loop* current_loop() noexcept { return t_current_loop; }
void set_current_loop(Loop* loop) noexcept { t_current_loop = loop; }

Loop::Loop(unsigned idx)
    : index(idx),
      read_buffer(64 * 1024),
      ping(make_text_frame('2', {})),
      noop(make_text_frame('6', {})),
      close(make_text_frame('1', {})),
      probe_reply(make_text_frame('3', "probe")) {}

void Loop::trim_heap_soon() {
  if (trim_armed) return;
  trim_armed = true;
  trim_timer.expires_after(std::chrono::seconds(1));
  trim_timer.async_wait([this](boost::system::error_code ec) {
    trim_armed = false;
    if (!ec) ::malloc_trim(0);
  });
}

// --- FieldList -------------------------------------------------------------

void FieldList::add(std::string_view name, std::string_view value) {
  data_.append(name);
  data_ += '\0';
  data_.append(value);
  data_ += '\0';
}

bool FieldList::next(std::string_view& rest, std::string_view& name, std::string_view& value) {
  auto n = rest.find('\0');
  if (n == std::string_view::npos) return false;
  auto v = rest.find('\0', n + 1);
  if (v == std::string_view::npos) return false;
  name = rest.substr(0, n);
  value = rest.substr(n + 1, v - n - 1);
  rest.remove_prefix(v + 1);
  return true;
}

std::optional<std::string_view> FieldList::get(std::string_view name) const {
  std::string_view rest(data_), n, v;
  while (next(rest, n, v)) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string_view, std::string_view>> FieldList::all() const {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::string_view rest(data_), n, v;
  while (next(rest, n, v)) out.emplace_back(n, v);
  return out;
}

// --- Args ----------------------------------------------------------------

std::size_t Args::push_binary(std::string bytes) {
  return push_binary(std::make_shared<const std::string>(std::move(bytes)));
}

std::size_t Args::push_binary(Bytes bytes) {
  std::size_t n = attachments_.size();
  attachments_.push_back(std::move(bytes));
  values_.push_back(socketio::make_placeholder(n));
  return n;
}

boost::json::value Args::make_binary(std::string bytes) {
  std::size_t n = attachments_.size();
  attachments_.push_back(std::make_shared<const std::string>(std::move(bytes)));
  return socketio::make_placeholder(n);
}

const std::string* Args::binary(const boost::json::value& v) const noexcept {
  std::size_t n = 0;
  if (!socketio::is_placeholder(v, &n) || n >= attachments_.size()) return nullptr;
  return attachments_[n].get();
}

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

namespace detail {
std::unique_ptr<Adapter> make_local_adapter(Server::Impl& server);
}

Server::Impl::Impl(ServerOptions o) : options(std::move(o)) {
  unsigned n = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  if (n > 255) throw std::invalid_argument("threads must be at most 255");
  options.threads = n;
  if (options.path.empty() || options.path.front() != '/') options.path = "/" + options.path;
  if (options.path.back() != '/') options.path += '/';
  for (unsigned i = 0; i < n; ++i) loops.push_back(std::make_unique<Loop>(i));
  auto engine = std::make_unique<engineio::Engine>();
  engine->path = options.path;
  engine->options = options;
  engine->make_handler = [this](engineio::Session& s) -> std::unique_ptr<engineio::SessionHandler> {
    return std::make_unique<detail::Client>(*this, s);
  };
  engines.push_back(std::move(engine));
  adapter = detail::make_local_adapter(*this);
  if (options.recovery.enabled) recovery = std::make_unique<detail::RecoveryStore>(options.recovery);
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
    socket_observers.push_back(
        {[p = presence.get()](Socket& s) { p->socket_connected(s); },
         [p = presence.get()](Socket& s, const std::string&) { p->socket_disconnected(s); }});
  }
  http = std::make_unique<HttpServer>(loops, engines, routes);
  // Idle loops stay alive until stop() releases these.
  for (auto& loop : loops) guards.push_back(asio::make_work_guard(loop->ioc));
  get_or_create("/");
}

Server::Impl::~Impl() {
  // Sessions reference engines and namespaces: drop them first.
  for (auto& loop : loops) loop->sessions.clear();
}

detail::NamespaceImpl& Server::Impl::get_or_create(std::string_view name) {
  std::string n(name);
  if (n.empty() || n.front() != '/') n.insert(n.begin(), '/');
  std::unique_lock lock(nsp_mutex);
  auto& slot = namespaces[n];
  if (!slot) slot = std::make_unique<detail::NamespaceImpl>(*this, n);
  return *slot;
}

detail::NamespaceImpl* Server::Impl::resolve(const std::string& name,
                                             const boost::json::object& auth) {
  {
    std::shared_lock lock(nsp_mutex);
    if (auto it = namespaces.find(name); it != namespaces.end()) return it->second.get();
  }
  for (auto& parent : dynamic_parents) {
    if (!parent->predicate(name, auth)) continue;
    std::unique_lock lock(nsp_mutex);
    auto& slot = namespaces[name];
    if (!slot) slot = std::make_unique<detail::NamespaceImpl>(*this, name, parent.get());
    return slot.get();
  }
  return nullptr;
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

void Server::observe_sockets(ConnectionHandler connected, DisconnectHandler disconnected) {
  impl_->socket_observers.push_back({std::move(connected), std::move(disconnected)});
}

void Server::add_engine_echo(std::string path, ServerOptions engine_options) {
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  if (path.back() != '/') path += '/';
  auto engine = std::make_unique<engineio::Engine>();
  engine->path = std::move(path);
  engine->options = std::move(engine_options);
  engine->make_handler = [](engineio::Session& s) -> std::unique_ptr<engineio::SessionHandler> {
    return std::make_unique<EchoHandler>(s);
  };
  impl_->engines.push_back(std::move(engine));
}

Presence& Server::presence() {
  if (!impl_->presence) throw std::logic_error("presence is disabled (ServerOptions::presence.enabled)");
  return *impl_->presence;
}

void Server::add_http_route(std::string prefix, HttpHandler handler) {
  impl_->routes.emplace_back(std::move(prefix), std::move(handler));
}

void Server::listen(const std::string& host, std::uint16_t port) { impl_->http->listen(host, port); }
std::uint16_t Server::port() const noexcept { return impl_->http->port(); }

void Server::run() {
  impl_->running = true;
  if (impl_->presence) impl_->presence->start();
  auto run_loop = [](Loop* loop) {
    set_current_loop(loop);
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

const ServerOptions& Server::options() const noexcept { return impl_->options; }
unsigned Server::threads() const noexcept { return static_cast<unsigned>(impl_->loops.size()); }

}  // namespace rollcall
