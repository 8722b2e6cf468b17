// Namespaces, broadcast targets and the in-process adapter.
#include "socketio/core.hpp"
#include "socketio/recovery.hpp"

#include "engineio/loop.hpp"

#include <boost/asio/post.hpp>

namespace rollcall::detail {

namespace asio = boost::asio;

EncodedPtr encode(socketio::PacketType type, const std::string& nsp,
                  std::optional<std::uint64_t> id, boost::json::value data,
                  const std::vector<Bytes>& attachments) {
  socketio::Packet p;
  p.type = type;
  if (!attachments.empty()) {
    if (type == socketio::PacketType::event) p.type = socketio::PacketType::binary_event;
    if (type == socketio::PacketType::ack) p.type = socketio::PacketType::binary_ack;
  }
  p.nsp = nsp;
  p.id = id;
  p.data = std::move(data);
  p.attachments = attachments.size();
  std::string buf = frame_buffer(64);
  buf += '4';
  socketio::encode(p, buf);
  auto e = std::make_shared<Encoded>();
  e->text = make_frame(std::move(buf), false);
  e->attachments.reserve(attachments.size());
  for (const auto& b : attachments) e->attachments.push_back(make_binary_frame(*b));
  return e;
}

template <class Fn>
void NamespaceLocal::for_each(Loop& loop, const Target& t, Fn&& fn) {
  std::uint64_t epoch = ++loop.epoch;
  auto visit_room = [&](const std::string& room, auto&& visit) {
    if (auto it = rooms.find(room); it != rooms.end()) {
      for (SocketImpl* s : it->second) visit(*s);
    } else if (auto s = sockets.find(room); s != sockets.end()) {
      visit(*s->second);  // a socket id is a room of its own
    }
  };
  for (const auto& room : t.except) visit_room(room, [&](SocketImpl& s) { s.mark_ = epoch; });
  auto deliver = [&](SocketImpl& s) {
    if (s.mark_ == epoch) return;
    s.mark_ = epoch;
    fn(s);
  };
  if (t.rooms.empty()) {
    for (auto& [id, s] : sockets) deliver(*s);
  } else {
    for (const auto& room : t.rooms) visit_room(room, deliver);
  }
}

namespace {

// Fans a broadcast out to every loop of this process. The encoded packet is
// shared: each loop only looks up its own recipients.
class LocalAdapter final : public Adapter {
 public:
  explicit LocalAdapter(Core& server) : server_(server) {}

  void broadcast(NamespaceImpl& nsp, EncodedPtr packet, const Target& target) override {
    auto shared_target = std::make_shared<const Target>(target);
    on_each_loop([&nsp, packet, shared_target](Loop& loop) {
      // Broadcasts queued on a loop together share a write per recipient.
      loop.poller.cork_posted();
      nsp.local(loop).for_each(loop, *shared_target, [&](SocketImpl& s) {
        s.send_packet(*packet, shared_target->volatile_);
      });
    });
  }

  void apply(NamespaceImpl& nsp, const Target& target, std::function<void(SocketImpl&)> op,
             std::function<void(std::size_t)> done) override {
    auto shared_target = std::make_shared<const Target>(target);
    auto shared_op = std::make_shared<std::function<void(SocketImpl&)>>(std::move(op));
    auto shared_done = std::make_shared<std::function<void(std::size_t)>>(std::move(done));
    on_each_loop([&nsp, shared_target, shared_op, shared_done](Loop& loop) {
      // Collect first: the operation may change rooms while we iterate.
      std::vector<std::shared_ptr<SocketImpl>> matched;
      nsp.local(loop).for_each(loop, *shared_target,
                               [&](SocketImpl& s) { matched.push_back(s.shared_from_this()); });
      for (auto& s : matched) (*shared_op)(*s);
      if (*shared_done) (*shared_done)(matched.size());
    });
  }

  void fetch(NamespaceImpl& nsp, const Target& target, FetchCallback cb) override {
    struct Gather {
      std::mutex mutex;
      std::vector<SocketSnapshot> sockets;
      std::size_t waiting;
      FetchCallback cb;
    };
    auto gather = std::make_shared<Gather>();
    gather->waiting = server_.loops.size();
    gather->cb = std::move(cb);
    auto shared_target = std::make_shared<const Target>(target);
    on_each_loop([&nsp, shared_target, gather](Loop& loop) {
      std::vector<SocketSnapshot> mine;
      nsp.local(loop).for_each(loop, *shared_target,
                               [&](SocketImpl& s) { mine.push_back(snapshot(s)); });
      bool last = false;
      {
        std::lock_guard lock(gather->mutex);
        for (auto& s : mine) gather->sockets.push_back(std::move(s));
        last = --gather->waiting == 0;
      }
      if (last) gather->cb(std::move(gather->sockets));
    });
  }

 private:
  template <class Fn>
  void on_each_loop(Fn fn) {
    // The calling thread's loop, if it is one of this server's (another
    // Server of the process may be calling: its loops are not ours).
    Loop* here = current_loop();
    if (here && (here->index >= server_.loops.size() || server_.loops[here->index].get() != here)) {
      here = nullptr;
    }
    for (auto& loop : server_.loops) {
      if (loop.get() == here) continue;
      asio::post(loop->ioc, [fn, l = loop.get()] { fn(*l); });
    }
    if (here) fn(*here);
  }

  Core& server_;
};

}  // namespace

std::unique_ptr<Adapter> make_local_adapter(Core& server) {
  return std::make_unique<LocalAdapter>(server);
}

NamespaceImpl::NamespaceImpl(Core& s, std::string name, NamespaceImpl* p)
    : server(s), name_(std::move(name)), parent(p), locals(s.loops.size()) {}

NamespaceLocal& NamespaceImpl::local(const Loop& loop) { return locals[loop.index]; }

void NamespaceImpl::run_connection_handlers(Socket& s) {
  const auto& handlers = parent ? parent->connection_handlers : connection_handlers;
  for (const auto& h : handlers) {
    if (!s.connected()) break;
    h(s);
  }
}

BroadcastOperator NamespaceImpl::op(Target t) const {
  return BroadcastOperator(const_cast<NamespaceImpl*>(this), std::move(t));
}

void NamespaceImpl::broadcast(std::string_view event, Args args, const Target& target) {
  boost::json::array data;
  data.reserve(args.size() + 2);
  data.emplace_back(event);
  for (auto& v : args.values()) data.push_back(std::move(v));
  if (server.cluster && !target.local) {
    server.cluster->broadcast(ClusterPacket{name_, data, args.attachments()}, target);
  }
  EncodedPtr packet;
  if (server.recovery && !target.volatile_) {
    packet = server.recovery->persist(*this, std::move(data), args.attachments(), target);
  } else {
    packet = encode(socketio::PacketType::event, name_, std::nullopt, std::move(data),
                    args.attachments());
  }
  server.adapter->broadcast(*this, std::move(packet), target);
}

}  // namespace rollcall::detail

namespace rollcall {

using detail::NamespaceImpl;

// --- BroadcastOperator ---------------------------------------------------

BroadcastOperator BroadcastOperator::to(std::string room) const {
  auto t = target_;
  t.rooms.push_back(std::move(room));
  return BroadcastOperator(nsp_, std::move(t));
}

BroadcastOperator BroadcastOperator::except(std::string room) const {
  auto t = target_;
  t.except.push_back(std::move(room));
  return BroadcastOperator(nsp_, std::move(t));
}

BroadcastOperator BroadcastOperator::volatile_() const {
  auto t = target_;
  t.volatile_ = true;
  return BroadcastOperator(nsp_, std::move(t));
}

BroadcastOperator BroadcastOperator::local() const {
  auto t = target_;
  t.local = true;
  return BroadcastOperator(nsp_, std::move(t));
}

void BroadcastOperator::emit(std::string_view event, Args args) const {
  static_cast<NamespaceImpl*>(nsp_)->broadcast(event, std::move(args), target_);
}

void BroadcastOperator::disconnect_sockets(bool close) const {
  auto* nsp = static_cast<NamespaceImpl*>(nsp_);
  if (nsp->server.cluster && !target_.local) nsp->server.cluster->disconnect_sockets(nsp->name_, target_, close);
  nsp->server.adapter->apply(*nsp, target_,
                             [close](detail::SocketImpl& s) { s.disconnect(close); });
}

void BroadcastOperator::sockets_join(std::string room) const {
  auto* nsp = static_cast<NamespaceImpl*>(nsp_);
  if (nsp->server.cluster && !target_.local) nsp->server.cluster->sockets_join(nsp->name_, target_, room);
  nsp->server.adapter->apply(*nsp, target_, [room](detail::SocketImpl& s) { s.join(room); });
}

void BroadcastOperator::sockets_leave(std::string room) const {
  auto* nsp = static_cast<NamespaceImpl*>(nsp_);
  if (nsp->server.cluster && !target_.local) nsp->server.cluster->sockets_leave(nsp->name_, target_, room);
  nsp->server.adapter->apply(*nsp, target_, [room](detail::SocketImpl& s) { s.leave(room); });
}

namespace {

// Answers gathered from several parts (this node's loops, the other nodes)
// into one callback, called once when every part is done.
struct AckGather {
  std::mutex mutex;
  std::size_t parts_left;
  bool timed_out = false;
  std::vector<Args> responses;
  BroadcastAckCallback cb;

  AckGather(std::size_t parts, BroadcastAckCallback c) : parts_left(parts), cb(std::move(c)) {}
  void add(std::error_code ec, Args answer) {
    std::lock_guard lock(mutex);
    if (ec) timed_out = true;
    else responses.push_back(std::move(answer));
  }
  void part_done(std::error_code ec = {}) {
    BroadcastAckCallback done;
    {
      std::lock_guard lock(mutex);
      if (ec) timed_out = true;
      if (--parts_left == 0) done = std::move(cb);
    }
    if (done) done(timed_out ? std::make_error_code(std::errc::timed_out) : std::error_code{},
                   std::move(responses));
  }
};

}  // namespace

void BroadcastOperator::emit_with_acks(std::string_view event, Args args, Millis timeout,
                                       AckHandlers handlers) const {
  auto* nsp = static_cast<NamespaceImpl*>(nsp_);
  // `counted` fires when every loop has counted its sockets.
  struct Count {
    std::mutex mutex;
    std::size_t loops_left;
    std::size_t total = 0;
  };
  auto count = std::make_shared<Count>();
  count->loops_left = nsp->server.loops.size();
  auto h = std::make_shared<AckHandlers>(std::move(handlers));
  auto shared_args = std::make_shared<const Args>(std::move(args));
  std::string ev(event);
  nsp->server.adapter->apply(
      *nsp, target_,
      [h, shared_args, ev, timeout](detail::SocketImpl& s) {
        s.emit_with_ack(ev, *shared_args, timeout,
                        [h](std::error_code ec, Args answer) { h->answered(ec, std::move(answer)); });
      },
      [h, count](std::size_t matched) {
        std::size_t total = 0;
        {
          std::lock_guard lock(count->mutex);
          count->total += matched;
          if (--count->loops_left > 0) return;
          total = count->total;
        }
        if (h->counted) h->counted(total);
      });
}

void BroadcastOperator::emit_with_ack(std::string_view event, Args args, Millis timeout,
                                      BroadcastAckCallback cb) const {
  auto* nsp = static_cast<NamespaceImpl*>(nsp_);
  bool remote = nsp->server.cluster && !target_.local;
  auto gather = std::make_shared<AckGather>(remote ? 2 : 1, std::move(cb));
  if (remote) {
    boost::json::array data;
    data.emplace_back(event);
    for (const auto& v : args.values()) data.push_back(v);
    nsp->server.cluster->broadcast_with_ack(
        ClusterPacket{nsp->name_, std::move(data), args.attachments()}, target_, timeout,
        [gather](std::error_code ec, std::vector<Args> answers) {
          for (auto& a : answers) gather->add({}, std::move(a));
          gather->part_done(ec);
        });
  }
  // This node: done when all its sockets have answered or timed out.
  struct Local {
    std::mutex mutex;
    std::size_t expected = 0;
    std::size_t answered = 0;
    bool counted = false;
  };
  auto local = std::make_shared<Local>();
  auto maybe_done = [local] {
    // Under local->mutex: true once, when the count is known and complete.
    return local->counted && local->answered == local->expected;
  };
  BroadcastOperator here = *this;
  here.target_.local = true;
  here.emit_with_acks(
      event, std::move(args), timeout,
      AckHandlers{[gather, local, maybe_done](std::size_t n) {
                    bool done;
                    {
                      std::lock_guard lock(local->mutex);
                      local->expected = n;
                      local->counted = true;
                      done = maybe_done();
                    }
                    if (done) gather->part_done();
                  },
                  [gather, local, maybe_done](std::error_code ec, Args answer) {
                    gather->add(ec, std::move(answer));
                    bool done;
                    {
                      std::lock_guard lock(local->mutex);
                      ++local->answered;
                      done = maybe_done();
                    }
                    if (done) gather->part_done();
                  }});
}

void BroadcastOperator::fetch_sockets(FetchCallback cb) const {
  auto* nsp = static_cast<NamespaceImpl*>(nsp_);
  if (!nsp->server.cluster || target_.local) {
    nsp->server.adapter->fetch(*nsp, target_, std::move(cb));
    return;
  }
  struct Both {
    std::mutex mutex;
    std::size_t left = 2;
    std::vector<SocketSnapshot> sockets;
    FetchCallback cb;
  };
  auto both = std::make_shared<Both>();
  both->cb = std::move(cb);
  auto add = [both](std::vector<SocketSnapshot> some) {
    FetchCallback done;
    {
      std::lock_guard lock(both->mutex);
      for (auto& s : some) both->sockets.push_back(std::move(s));
      if (--both->left == 0) done = std::move(both->cb);
    }
    if (done) done(std::move(both->sockets));
  };
  nsp->server.cluster->fetch_sockets(nsp->name_, target_, add);
  nsp->server.adapter->fetch(*nsp, target_, add);
}

// --- Namespace -------------------------------------------------------------

namespace {
NamespaceImpl& impl(Namespace& n) { return static_cast<NamespaceImpl&>(n); }
const NamespaceImpl& impl(const Namespace& n) { return static_cast<const NamespaceImpl&>(n); }
}  // namespace

const std::string& Namespace::name() const noexcept { return impl(*this).name_; }

Namespace& Namespace::use(Middleware mw) {
  impl(*this).middlewares.push_back(std::move(mw));
  return *this;
}

Namespace& Namespace::on_connection(ConnectionHandler handler) {
  impl(*this).connection_handlers.push_back(std::move(handler));
  return *this;
}

BroadcastOperator Namespace::to(std::string room) const {
  return impl(*this).op({}).to(std::move(room));
}
BroadcastOperator Namespace::except(std::string room) const {
  return impl(*this).op({}).except(std::move(room));
}
BroadcastOperator Namespace::volatile_() const { return impl(*this).op({}).volatile_(); }
void Namespace::emit(std::string_view event, Args args) const {
  impl(*this).op({}).emit(event, std::move(args));
}
void Namespace::disconnect_sockets(bool close) const {
  impl(*this).op({}).disconnect_sockets(close);
}
void Namespace::fetch_sockets(FetchCallback cb) const { impl(*this).op({}).fetch_sockets(std::move(cb)); }
BroadcastOperator Namespace::target(BroadcastOperator::Target t) const { return impl(*this).op(std::move(t)); }

void Namespace::server_side_emit(std::string_view event, Args args) const {
  const auto& n = impl(*this);
  if (n.server.cluster) n.server.cluster->server_side_emit(n.name_, std::string(event), std::move(args), Millis(0), nullptr);
}

void Namespace::server_side_emit_with_ack(std::string_view event, Args args, Millis timeout,
                                          BroadcastAckCallback cb) const {
  const auto& n = impl(*this);
  if (!n.server.cluster) return cb({}, {});  // no other node: no answers, none missing
  n.server.cluster->server_side_emit(n.name_, std::string(event), std::move(args), timeout, std::move(cb));
}

Namespace& Namespace::on_server_side(std::string event, EventHandler handler) {
  impl(*this).server_side_handlers.emplace_back(std::move(event), std::move(handler));
  return *this;
}

void Namespace::deliver_server_side(const std::string& event, Args args, Ack ack) const {
  for (const auto& [name, handler] : impl(*this).server_side_handlers) {
    if (name == event) handler(args, ack);
  }
}
std::size_t Namespace::size() const noexcept { return impl(*this).count.load(); }

}  // namespace rollcall
