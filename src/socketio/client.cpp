// The Socket.IO side of an Engine.IO session: decoding, binary
// reconstruction, namespace CONNECT with middlewares and recovery.
#include "socketio/core.hpp"
#include "socketio/recovery.hpp"

#include "common/encoding.hpp"
#include "engineio/packet.hpp"
#include "engineio/loop.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace rollcall::detail {

using socketio::PacketType;

Client::Client(Core& server, engineio::Session& session)
    : server_(server), session_(session), alive_(std::make_shared<bool>(true)) {
  connect_timer_ = std::make_unique<boost::asio::steady_timer>(session.loop().ioc,
                                                               server.options.connect_timeout);
  connect_timer_->async_wait([alive = alive_, this](boost::system::error_code ec) {
    if (ec || !*alive) return;
    if (sockets_.empty()) {
      spdlog::debug("session {}: no namespace joined within connectTimeout", session_.sid());
      session_.close(engineio::CloseReason::forced_close);
    }
  });
}

Client::~Client() {
  *alive_ = false;
  drop_partial();
}

void Client::drop_partial() {
  if (!partial_) return;
  session_.budget().release(engineio::Budget::Side::in, partial_->held);
  partial_.reset();
}

void Client::send(const Encoded& e, bool volatile_) {
  if (!session_.send(e.text, volatile_)) return;
  for (const auto& a : e.attachments) session_.send(a);
}

// A Socket.IO-level decode error closes the whole session. Node's Client
// closes its engine connection itself, so its sockets see "forced close"
// (an Engine.IO-level decode error is "parse error").
void Client::fail(const char* what) {
  spdlog::debug("session {}: {}", session_.sid(), what);
  session_.close(engineio::CloseReason::forced_close);
}

void Client::on_message(std::string_view data, bool binary) {
  try {
    if (binary) {
      if (!partial_) return fail("binary message without a packet header");
      if (!session_.budget().add(engineio::Budget::Side::in, partial_->held, data.size())) {
        return session_.close(engineio::CloseReason::transport_error);
      }
      partial_->bins.push_back(std::make_shared<const std::string>(data));
      if (partial_->bins.size() < partial_->packet.attachments) return;
      if (!socketio::placeholders_valid(partial_->packet.data, partial_->packet.attachments)) {
        return fail("placeholders do not match the attachments");
      }
      auto done = std::move(partial_);
      session_.budget().release(engineio::Budget::Side::in, done->held);
      dispatch(std::move(done->packet), std::move(done->bins));
      return;
    }
    if (partial_) return fail("text packet while waiting for binary attachments");
    socketio::Packet p;
    auto err = socketio::decode(data, p, server_.options.max_attachments);
    if (err != socketio::DecodeError::none) return fail(socketio::to_string(err));
    if ((p.type == PacketType::binary_event || p.type == PacketType::binary_ack) &&
        p.attachments > 0) {
      partial_ = std::make_unique<Partial>(Partial{std::move(p), {}, 0});
      return;
    }
    dispatch(std::move(p), {});
  } catch (const std::exception& e) {
    // A handler bug must not take the server down; log it once.
    spdlog::error("session {}: handler threw: {}", session_.sid(), e.what());
  }
}

void Client::dispatch(socketio::Packet&& p, std::vector<Bytes>&& attachments) {
  auto it = std::find_if(sockets_.begin(), sockets_.end(),
                         [&](const auto& e) { return e.first->name_ == p.nsp; });
  if (p.type == PacketType::connect) {
    bool busy = it != sockets_.end() ||
                std::any_of(connecting_.begin(), connecting_.end(),
                            [&](NamespaceImpl* n) { return n->name_ == p.nsp; });
    if (busy) return fail("CONNECT for an already connected namespace");
    connect(p.nsp, std::move(p.data));
    return;
  }
  if (it == sockets_.end() || p.type == PacketType::connect_error) {
    spdlog::debug("session {}: packet for a namespace it did not join", session_.sid());
    session_.close(engineio::CloseReason::forced_close);
    return;
  }
  auto socket = it->second;
  socket->on_packet(std::move(p), std::move(attachments));
}

namespace {

// Runs a namespace's middlewares one after another; each may answer later.
// A middleware may call its `next` from any thread: off the socket's loop,
// the call is posted there.
struct MiddlewareChain : std::enable_shared_from_this<MiddlewareChain> {
  std::weak_ptr<bool> alive;
  Client* client;
  NamespaceImpl* nsp;
  Loop* loop;  // the socket's
  std::shared_ptr<SocketImpl> socket;
  std::size_t next_index = 0;
  std::function<void(std::optional<ConnectError>)> on_done;

  void next(std::optional<ConnectError> err) {
    auto a = alive.lock();
    if (!a || !*a) return;
    const auto& mws = nsp->effective_middlewares();
    if (err || next_index == mws.size()) {
      auto done = std::move(on_done);
      on_done = nullptr;
      if (done) done(std::move(err));
      return;
    }
    const auto& mw = mws[next_index++];
    auto called = std::make_shared<bool>(false);
    mw(*socket, [self = shared_from_this(), called](std::optional<ConnectError> e) {
      if (current_loop() != self->loop) {
        boost::asio::post(self->loop->ioc, [self, called, e = std::move(e)]() mutable {
          self->answer(*called, std::move(e));
        });
        return;
      }
      self->answer(*called, std::move(e));
    });
  }

  // A middleware's answer, on the socket's loop.
  void answer(bool& called, std::optional<ConnectError> e) {
    if (called) return;  // next() called twice: ignore the second
    called = true;
    next(std::move(e));
  }
};

boost::json::object connect_error_payload(const ConnectError& e) {
  boost::json::object o;
  o["message"] = e.message;
  if (!e.data.is_null()) o["data"] = e.data;
  return o;
}

}  // namespace

void Client::connect(const std::string& name, boost::json::value auth_value) {
  boost::json::object auth = auth_value.is_object() ? std::move(auth_value.as_object())
                                                    : boost::json::object{};
  NamespaceImpl* nsp = server_.resolve(name, auth);
  if (!nsp) {
    auto e = encode(PacketType::connect_error, name, std::nullopt,
                    connect_error_payload({"Invalid namespace", nullptr}), {});
    send(*e);
    return;
  }

  if (server_.recovery) {
    auto pid = auth.if_contains("pid");
    auto offset = auth.if_contains("offset");
    if (pid && offset && pid->is_string() && offset->is_string()) {
      auto restored = server_.recovery->restore(*nsp, std::string(pid->as_string()),
                                                std::string(offset->as_string()));
      if (restored) {
        auto socket = std::make_shared<SocketImpl>(*nsp, *this, restored->state.id,
                                                   restored->state.pid, session_.handshake(), auth);
        socket->data_ = std::move(restored->state.data);
        socket->user_ = std::move(restored->state.user);
        socket->recovered_ = true;
        socket->rooms_ = std::move(restored->state.rooms);
        if (server_.options.recovery.skip_middlewares) {
          finish_connect(*nsp, std::move(socket), std::move(restored->missed));
          return;
        }
        // Middlewares still run; the missed packets go out once they pass.
        run_middlewares(*nsp, std::move(socket), std::move(restored->missed));
        return;
      }
    }
  }

  std::string id = random_id();
  std::string pid = server_.recovery ? random_id() : std::string();
  auto socket = std::make_shared<SocketImpl>(*nsp, *this, std::move(id), std::move(pid),
                                             session_.handshake(), std::move(auth));
  run_middlewares(*nsp, std::move(socket), {});
}

// Runs the namespace's middlewares; the socket connects (after `missed`,
// for a recovered one) once they all pass, or the client gets the
// CONNECT_ERROR of the first that refuses.
void Client::run_middlewares(NamespaceImpl& nsp, std::shared_ptr<SocketImpl> socket,
                             std::vector<EncodedPtr> missed) {
  connecting_.push_back(&nsp);
  auto chain = std::make_shared<MiddlewareChain>();
  chain->alive = alive_;
  chain->client = this;
  chain->nsp = &nsp;
  chain->loop = &session_.loop();
  chain->socket = socket;
  chain->on_done = [this, nsp = &nsp, socket, missed = std::move(missed)](
                       std::optional<ConnectError> err) mutable {
    done_connecting(nsp);
    if (err) {
      send(*encode(PacketType::connect_error, nsp->name_, std::nullopt,
                   connect_error_payload(*err), {}));
      return;
    }
    finish_connect(*nsp, std::move(socket), std::move(missed));
  };
  chain->next(std::nullopt);
}

void Client::finish_connect(NamespaceImpl& nsp, std::shared_ptr<SocketImpl> socket,
                            std::vector<EncodedPtr> missed) {
  if (session_.closed()) return;
  Loop& loop = session_.loop();
  auto& local = nsp.local(loop);
  socket->connected_ = true;
  local.sockets[socket->id_] = socket.get();
  for (const auto& r : socket->rooms_) local.rooms[r].insert(socket.get());
  nsp.count.fetch_add(1, std::memory_order_relaxed);
  sockets_.emplace_back(&nsp, socket);
  connect_timer_.reset();
  session_.budget().authenticated();

  // Missed packets first (the client buffers them until connected), then
  // the CONNECT reply; events emitted by connection handlers follow it.
  for (const auto& m : missed) send(*m);
  boost::json::object reply;
  reply["sid"] = socket->id_;
  if (!socket->pid_.empty()) reply["pid"] = socket->pid_;
  send(*encode(PacketType::connect, nsp.name_, std::nullopt, std::move(reply), {}));
  for (const auto& o : server_.socket_observers) {
    if (!socket->connected_) return;  // an observer disconnected it
    if (o.connected) o.connected(*socket);
  }
  nsp.run_connection_handlers(*socket);
}

void Client::remove(SocketImpl& s) {
  auto it = std::find_if(sockets_.begin(), sockets_.end(),
                         [&](const auto& e) { return e.second.get() == &s; });
  if (it == sockets_.end()) return;
  auto keep = std::move(it->second);  // destroyed after the erase completes
  sockets_.erase(it);
}

void Client::disconnect_all() {
  auto sockets = sockets_;
  for (auto& [nsp, s] : sockets) s->disconnect(false);
  session_.close(engineio::CloseReason::forced_server_close);
}

void Client::on_close(engineio::CloseReason reason) {
  *alive_ = false;
  connect_timer_.reset();
  drop_partial();  // what it held goes back to the budget (and the pool) now
  auto sockets = std::move(sockets_);
  sockets_.clear();
  for (auto& [nsp, s] : sockets) s->on_close(reason);
}

}  // namespace rollcall::detail
