// A Socket.IO socket: one client's connection to one namespace.
#include "socketio/core.hpp"
#include "socketio/recovery.hpp"

#include "engineio/loop.hpp"

#include <rollcall/asio.hpp>

#include <boost/asio/post.hpp>

#include <ctime>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace rollcall::detail {

namespace asio = boost::asio;

SocketImpl::SocketImpl(NamespaceImpl& nsp, Client& client, std::string id, std::string pid,
                       std::shared_ptr<const Handshake> handshake, boost::json::object auth)
    : nsp_(nsp),
      client_(&client),
      id_(std::move(id)),
      pid_(std::move(pid)),
      handshake_(std::move(handshake)),
      auth_(std::move(auth)) {}

SocketImpl::~SocketImpl() = default;

void SocketImpl::send_packet(const Encoded& e, bool volatile_) {
  if (client_) client_->send(e, volatile_);
}

void SocketImpl::join_all(const std::vector<std::string>& rooms) {
  for (const auto& r : rooms) join(r);
}

void SocketImpl::on_packet(socketio::Packet&& p, std::vector<Bytes>&& attachments) {
  using socketio::PacketType;
  switch (p.type) {
    case PacketType::event:
    case PacketType::binary_event: {
      auto& arr = p.data.as_array();
      std::string event = arr[0].is_string() ? std::string(arr[0].as_string())
                                             : boost::json::serialize(arr[0]);
      boost::json::array rest;
      rest.reserve(arr.size() - 1);
      for (std::size_t i = 1; i < arr.size(); ++i) rest.push_back(std::move(arr[i]));
      Args args(std::move(rest), std::move(attachments));
      Ack ack;
      if (p.id) {
        ack = Ack([weak = weak_from_this(), id = *p.id](Args reply) {
          auto self = weak.lock();
          if (!self || !self->connected_) return;
          auto e = encode(socketio::PacketType::ack, self->nsp_.name_, id,
                          std::move(reply.values()), reply.attachments());
          self->send_packet(*e);
        });
      }
      auto self = shared_from_this();
      // As Node: catch-all listeners see every event, before its handler.
      if (listeners_) {
        auto& any = listeners_->any;
        for (std::size_t i = 0; i < any.size() && connected_; ++i) any[i](event, args, ack);
      }
      auto it = std::find_if(handlers_.begin(), handlers_.end(),
                             [&](const auto& h) { return h.first == event; });
      if (it != handlers_.end() && connected_) {
        auto handler = it->second;  // the handler may replace itself
        handler(std::move(args), std::move(ack));
      }
      break;
    }
    case PacketType::ack:
    case PacketType::binary_ack: {
      auto it = find_ack(*p.id);
      if (it == acks_.end()) break;  // late or unknown ack: ignore, like Node
      auto cb = std::move(it->second.cb);
      drop_ack(it);
      cb({}, Args(std::move(p.data.as_array()), std::move(attachments)));
      break;
    }
    case PacketType::disconnect:
      on_close(engineio::CloseReason::client_namespace_disconnect);
      break;
    default:
      break;
  }
}

void SocketImpl::on_close(engineio::CloseReason reason) {
  if (!connected_) return;
  connected_ = false;
  auto self = shared_from_this();
  Loop& loop = client_->session().loop();
  auto& local = nsp_.local(loop);
  if (nsp_.server.recovery && RecoveryStore::recoverable(reason) && !pid_.empty()) {
    RecoveryStore::Saved saved{id_, pid_, rooms_, data_, user_};
    nsp_.server.recovery->save(nsp_, std::move(saved));
  }
  for (const auto& room : rooms_) {
    auto it = local.rooms.find(room);
    if (it == local.rooms.end()) continue;
    it->second.erase(this);
    if (it->second.empty()) local.rooms.erase(it);
  }
  local.sockets.erase(id_);
  nsp_.count.fetch_sub(1, std::memory_order_relaxed);
  auto acks = std::move(acks_);
  acks_.clear();
  for (auto& [id, pending] : acks) {
    if (pending.timer) pending.timer->cancel();
    pending.cb(std::make_error_code(std::errc::not_connected), {});
  }
  const std::string name = engineio::to_string(reason);  // handlers get Node's names
  for (const auto& o : nsp_.server.socket_observers) {
    if (o.disconnected) o.disconnected(*this, name);
  }
  if (listeners_) {
    for (const auto& h : listeners_->disconnect) h(*this, name);
  }
  for (const auto& h : nsp_.server.disconnect_handlers) h(*this, name);
  client_->remove(*this);
  client_ = nullptr;
}

}  // namespace rollcall::detail

namespace rollcall {

using detail::SocketImpl;

namespace {
SocketImpl& impl(Socket& s) { return static_cast<SocketImpl&>(s); }
const SocketImpl& impl(const Socket& s) { return static_cast<const SocketImpl&>(s); }
}  // namespace

void Ack::operator()(Args args) {
  if (!fn_ || !*fn_) return;
  auto fn = std::move(*fn_);
  *fn_ = nullptr;
  fn(std::move(args));
}

const std::string& Socket::id() const noexcept { return impl(*this).id_; }
const std::string& Socket::nsp() const noexcept { return impl(*this).nsp_.name_; }
const Handshake& Socket::handshake() const noexcept { return *impl(*this).handshake_; }
const boost::json::object& Socket::auth() const noexcept { return impl(*this).auth_; }
boost::json::object& Socket::data() noexcept { return impl(*this).data_; }
bool Socket::connected() const noexcept { return impl(*this).connected_; }
bool Socket::recovered() const noexcept { return impl(*this).recovered_; }

std::string Socket::transport() const {
  const auto& s = impl(*this);
  if (!s.client_) return {};
  return s.client_->session().websocket() ? "websocket" : "polling";
}

void Socket::set_user(User user) {
  auto& s = impl(*this);
  join(user_room(user.id));
  for (const auto& org : user.orgs) {
    join(org_room(org.id));
    if (!org.role.empty()) join(org_role_room(org.id, org.role));
  }
  s.user_ = std::move(user);
}

const User* Socket::user() const noexcept {
  const auto& s = impl(*this);
  return s.user_ ? &*s.user_ : nullptr;
}

void Socket::on(std::string event, EventHandler handler) {
  auto& handlers = impl(*this).handlers_;
  for (auto& [name, h] : handlers) {
    if (name == event) {
      h = std::move(handler);
      return;
    }
  }
  handlers.emplace_back(std::move(event), std::move(handler));
}

void Socket::on_any(AnyHandler handler) { impl(*this).listeners().any.push_back(std::move(handler)); }

void Socket::on_disconnect(DisconnectHandler handler) {
  impl(*this).listeners().disconnect.push_back(std::move(handler));
}

void Socket::emit(std::string_view event, Args args, EmitOptions opts) {
  auto& s = impl(*this);
  if (!s.connected_) return;
  boost::json::array data;
  data.reserve(args.size() + 2);
  data.emplace_back(event);
  for (auto& v : args.values()) data.push_back(std::move(v));
  detail::EncodedPtr packet;
  if (s.nsp_.server.recovery && !opts.volatile_) {
    // Stored with an offset so a reconnecting client can get it again.
    detail::Target t;
    t.rooms.push_back(s.id_);
    packet = s.nsp_.server.recovery->persist(s.nsp_, std::move(data), args.attachments(), t);
  } else {
    packet = detail::encode(socketio::PacketType::event, s.nsp_.name_, std::nullopt,
                            std::move(data), args.attachments());
  }
  s.send_packet(*packet, opts.volatile_);
}

void Socket::emit_with_ack(std::string_view event, Args args, Millis timeout, AckCallback cb) {
  auto& s = impl(*this);
  if (!s.connected_) {
    cb(std::make_error_code(std::errc::not_connected), {});
    return;
  }
  std::uint64_t id = s.next_ack_++;
  boost::json::array data;
  data.reserve(args.size() + 1);
  data.emplace_back(event);
  for (auto& v : args.values()) data.push_back(std::move(v));
  auto packet = detail::encode(socketio::PacketType::event, s.nsp_.name_, id, std::move(data),
                               args.attachments());
  auto timer = std::make_unique<boost::asio::steady_timer>(s.client_->session().loop().ioc, timeout);
  timer->async_wait([weak = s.weak_from_this(), id](boost::system::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    auto it = self->find_ack(id);
    if (it == self->acks_.end()) return;
    auto callback = std::move(it->second.cb);
    self->drop_ack(it);
    callback(std::make_error_code(std::errc::timed_out), {});
  });
  s.acks_.emplace_back(id, SocketImpl::PendingAck{std::move(cb), std::move(timer)});
  s.send_packet(*packet);
}

void Socket::join(std::string room) {
  auto& s = impl(*this);
  if (room == s.id_) return;  // implicit
  if (std::find(s.rooms_.begin(), s.rooms_.end(), room) != s.rooms_.end()) return;
  if (s.connected_) s.nsp_.local(s.client_->session().loop()).rooms[room].insert(&s);
  s.rooms_.push_back(std::move(room));
}

void Socket::leave(const std::string& room) {
  auto& s = impl(*this);
  auto pos = std::find(s.rooms_.begin(), s.rooms_.end(), room);
  if (pos == s.rooms_.end()) return;
  s.rooms_.erase(pos);
  if (!s.connected_) return;
  auto& rooms = s.nsp_.local(s.client_->session().loop()).rooms;
  if (auto it = rooms.find(room); it != rooms.end()) {
    it->second.erase(&s);
    if (it->second.empty()) rooms.erase(it);
  }
}

namespace detail {

boost::json::object handshake_json(const SocketImpl& s) {
  const Handshake& h = *s.handshake_;
  boost::json::object headers, query;
  for (auto [name, value] : h.headers.all()) {
    // Repeated header lines join as Node joins them.
    auto [it, fresh] = headers.emplace(name, value);
    if (!fresh) it->value() = std::string(it->value().as_string()) + ", " + std::string(value);
  }
  for (auto [name, value] : h.query.all()) query[name] = value;
  // Node's `time` is Date#toString(); rollcall keeps UTC.
  std::time_t secs = static_cast<std::time_t>(h.issued / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char time[64];
  std::strftime(time, sizeof time, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm);
  boost::json::object o;
  o["headers"] = std::move(headers);
  o["time"] = time;
  o["address"] = h.address;
  o["xdomain"] = h.xdomain;
  o["secure"] = h.secure;
  o["issued"] = h.issued;
  o["url"] = h.url;
  o["query"] = std::move(query);
  o["auth"] = s.auth_;
  return o;
}

SocketSnapshot snapshot(const SocketImpl& s) {
  SocketSnapshot out;
  out.id = s.id_;
  out.nsp = s.nsp_.name_;
  out.rooms.reserve(s.rooms_.size() + 1);
  out.rooms.push_back(s.id_);
  out.rooms.insert(out.rooms.end(), s.rooms_.begin(), s.rooms_.end());
  out.data = s.data_;
  out.handshake = handshake_json(s);
  return out;
}

}  // namespace detail

std::vector<std::string> Socket::rooms() const {
  const auto& s = impl(*this);
  std::vector<std::string> out{s.id_};
  out.insert(out.end(), s.rooms_.begin(), s.rooms_.end());
  return out;
}

BroadcastOperator Socket::to(std::string room) const {
  return broadcast().to(std::move(room));
}

BroadcastOperator Socket::broadcast() const {
  const auto& s = impl(*this);
  BroadcastOperator::Target t;
  t.except.push_back(s.id_);
  return BroadcastOperator(&s.nsp_, std::move(t));
}

void Socket::disconnect(bool close) {
  auto& s = impl(*this);
  if (!s.connected_) return;
  if (close) {
    s.client_->disconnect_all();
    return;
  }
  auto packet = detail::encode(socketio::PacketType::disconnect, s.nsp_.name_, std::nullopt,
                               nullptr, {});
  s.send_packet(*packet);
  s.on_close(engineio::CloseReason::server_namespace_disconnect);
}

void Socket::post(std::function<void(Socket&)> fn) {
  auto& s = impl(*this);
  if (!s.client_) return;
  boost::asio::post(s.client_->session().loop().ioc,
                    [weak = s.weak_from_this(), fn = std::move(fn)] {
                      auto self = weak.lock();
                      if (self && self->connected_) fn(*self);
                    });
}

unsigned Socket::loop_index() const noexcept {
  const auto& s = impl(*this);
  if (s.client_) return s.client_->session().loop().index;
  // Disconnected: its methods are still called on its loop only.
  const Loop* here = current_loop();
  return here ? here->index : 0;
}

boost::asio::any_io_executor executor(const Socket& socket) {
  const auto& s = impl(socket);
  return s.nsp_.server.loops[socket.loop_index()]->ioc.get_executor();
}

std::weak_ptr<Socket> Socket::weak() const {
  return std::const_pointer_cast<SocketImpl>(impl(*this).shared_from_this());
}

}  // namespace rollcall
