#include "cluster/redis_adapter.hpp"

#include "cluster/adapter_messages.hpp"
#include "common/encoding.hpp"
#include "redis/redis_client.hpp"
#include "redis/subscriber.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

namespace rollcall::cluster {

namespace asio = boost::asio;
namespace json = boost::json;
using redis::RedisValue;

namespace {

// RequestType of the Node adapter.
enum RequestType : int {
  kSockets = 0,
  kAllRooms = 1,
  kRemoteJoin = 2,
  kRemoteLeave = 3,
  kRemoteDisconnect = 4,
  kRemoteFetch = 5,
  kServerSideEmit = 6,
  kBroadcast = 7,
  kBroadcastClientCount = 8,
  kBroadcastAck = 9,
};

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

std::vector<std::string> strings_of(const json::value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& x : v->as_array()) {
    if (x.is_string()) out.emplace_back(x.as_string());
    else if (x.is_number()) out.push_back(json::serialize(x));  // socket.join(42) in Node
  }
  return out;
}

Target target_of(const json::value* opts) {
  Target t;
  if (opts != nullptr && opts->is_object()) {
    t.rooms = strings_of(opts->as_object().if_contains("rooms"));
    t.except = strings_of(opts->as_object().if_contains("except"));
  }
  t.local = true;
  return t;
}

json::object opts_json(const Target& t) {
  return json::object{{"rooms", strings(t.rooms)}, {"except", strings(t.except)}};
}

json::object snapshot_json(const SocketSnapshot& s) {
  return json::object{{"id", s.id}, {"handshake", s.handshake}, {"rooms", strings(s.rooms)}, {"data", s.data}};
}

SocketSnapshot snapshot_of(const json::value& v, const std::string& nsp) {
  SocketSnapshot s;
  s.nsp = nsp;
  if (!v.is_object()) return s;
  const auto& o = v.as_object();
  if (auto* id = o.if_contains("id"); id && id->is_string()) s.id = id->as_string();
  s.rooms = strings_of(o.if_contains("rooms"));
  if (auto* d = o.if_contains("data"); d && d->is_object()) s.data = d->as_object();
  if (auto* h = o.if_contains("handshake"); h && h->is_object()) s.handshake = h->as_object();
  return s;
}

// [event, ...args] of a cluster packet as the event and its Args.
std::pair<std::string, Args> split(const json::value& data, std::vector<Bytes> attachments) {
  Args args;
  std::string event;
  if (data.is_array() && !data.as_array().empty()) {
    const auto& a = data.as_array();
    if (a[0].is_string()) event = a[0].as_string();
    for (std::size_t i = 1; i < a.size(); ++i) args.push(a[i]);
  }
  args.attachments() = std::move(attachments);
  return {std::move(event), std::move(args)};
}

class RedisAdapterImpl final : public RedisAdapter, public std::enable_shared_from_this<RedisAdapterImpl> {
 public:
  RedisAdapterImpl(Server& server, RedisAdapterOptions o)
      : server_(server), o_(std::move(o)), uid_(random_id().substr(0, 6)) {
    pub_ = redis::RedisClient::create(ioc_.get_executor(), o_.redis);
    sub_ = redis::Subscriber::create(ioc_.get_executor(), o_.redis);
  }

  const std::string& uid() const noexcept override { return uid_; }

  void start() override {
    if (stopped_ || running_.exchange(true)) return;
    std::weak_ptr<RedisAdapterImpl> weak = shared_from_this();
    sub_->on_message([weak](std::string_view channel, std::string_view pattern, std::string_view payload) {
      if (auto self = weak.lock()) self->on_message(channel, pattern, payload);
    });
    sub_->on_state([weak](bool up) {
      auto self = weak.lock();
      if (!self) return;
      if (up && self->was_up_) {
        spdlog::warn("cluster adapter: subscribed again after losing Redis; messages other nodes "
                     "published meanwhile were lost");
      } else if (!up) {
        spdlog::warn("cluster adapter: lost the Redis subscription ({}); reconnecting",
                     self->sub_->last_error().message());
      }
      if (up) self->was_up_ = true;
    });
    guard_.emplace(ioc_.get_executor());
    thread_ = std::thread([this] { ioc_.run(); });
    asio::post(ioc_, [this] { sub_->start(); });
  }

  void stop() override {
    if (stopped_.exchange(true) || !running_) return;
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(ioc_, [this, &done] {
      auto requests = std::move(requests_);
      requests_.clear();
      for (auto& [id, r] : requests) finish(r, true);
      sub_->close();
      pub_->close();
      guard_.reset();
      done.set_value();
    });
    finished.wait();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // --- ClusterAdapter: this node's operations, to the others ---------------

  void namespace_created(Namespace& nsp) override {
    post([this, name = nsp.name()] {
      if (!nsps_.insert(name).second) return;
      sub_->psubscribe({channel(name) + "*"});
      sub_->subscribe({request_channel(name), response_channel(name), response_channel(name) + uid_ + "#"});
    });
  }

  void broadcast(const ClusterPacket& packet, const Target& target) override {
    BroadcastMessage m;
    m.uid = uid_;
    m.packet.nsp = packet.nsp;
    m.packet.data = packet.data;
    m.packet.attachments = packet.attachments;
    m.opts.rooms = target.rooms;
    m.opts.except = target.except;
    m.opts.flags.is_volatile = target.volatile_;
    std::string msg;
    if (auto ec = encode_broadcast(m, msg)) {
      spdlog::error("cluster adapter: cannot encode a broadcast for the other nodes: {}", ec.message());
      return;
    }
    std::string ch = channel(packet.nsp);
    if (target.rooms.size() == 1) ch += target.rooms[0] + "#";
    post([this, ch = std::move(ch), msg = std::move(msg)]() mutable { publish(std::move(ch), std::move(msg)); });
  }

  void sockets_join(const std::string& nsp, const Target& t, const std::string& room) override {
    room_request(nsp, t, room, kRemoteJoin);
  }
  void sockets_leave(const std::string& nsp, const Target& t, const std::string& room) override {
    room_request(nsp, t, room, kRemoteLeave);
  }
  void disconnect_sockets(const std::string& nsp, const Target& t, bool close) override {
    json::object r{{"uid", uid_}, {"type", kRemoteDisconnect}, {"opts", opts_json(t)}, {"close", close}};
    post([this, ch = request_channel(nsp), msg = json::serialize(r)]() mutable {
      publish(std::move(ch), std::move(msg));
    });
  }

  void fetch_sockets(const std::string& nsp, const Target& t, FetchCallback cb) override {
    json::object r{{"uid", uid_}, {"type", kRemoteFetch}, {"opts", opts_json(t)}};
    Request req;
    req.type = kRemoteFetch;
    req.nsp = nsp;
    req.fetched = std::move(cb);
    ask(nsp, std::move(r), std::move(req), o_.requests_timeout);
  }

  void broadcast_with_ack(const ClusterPacket& packet, const Target& t, Millis timeout,
                          BroadcastAckCallback cb) override {
    post([this, packet, t, timeout, cb = std::move(cb)]() mutable {
      if (!admit(cb)) return;
      BroadcastRequest m;
      m.uid = uid_;
      m.request_id = random_id().substr(0, 6);
      m.packet.nsp = packet.nsp;
      m.packet.data = packet.data;
      m.packet.attachments = packet.attachments;
      m.opts.rooms = t.rooms;
      m.opts.except = t.except;
      m.opts.flags.timeout = static_cast<std::uint64_t>(timeout.count());
      std::string msg;
      if (auto ec = encode_broadcast_request(m, msg)) {
        spdlog::error("cluster adapter: cannot encode a broadcast with acks: {}", ec.message());
        return cb({}, {});
      }
      Request req;
      req.type = kBroadcast;
      req.nsp = packet.nsp;
      req.acked = std::move(cb);
      count_nodes(packet.nsp, [this, id = m.request_id, msg = std::move(msg), req = std::move(req),
                               nsp = packet.nsp, timeout](long long nodes) mutable {
        req.expected = nodes > 0 ? static_cast<std::size_t>(nodes - 1) : 0;
        if (req.expected == 0) return req.acked({}, {});
        start_request(id, std::move(req), timeout);
        publish(request_channel(nsp), std::move(msg));
      });
    });
  }

  void server_side_emit(const std::string& nsp, const std::string& event, Args args, Millis timeout,
                        BroadcastAckCallback cb) override {
    if (!args.attachments().empty()) {
      spdlog::warn("cluster adapter: server-side event '{}' carries binary, which the Node adapter's "
                   "JSON requests cannot; not sent to the other nodes", event);
      if (cb) cb({}, {});
      return;
    }
    json::array data;
    data.emplace_back(event);
    for (auto& v : args.values()) data.push_back(v);
    json::object r{{"uid", uid_}, {"type", kServerSideEmit}, {"data", std::move(data)}};
    if (!cb) {
      post([this, ch = request_channel(nsp), msg = json::serialize(r)]() mutable {
        publish(std::move(ch), std::move(msg));
      });
      return;
    }
    Request req;
    req.type = kServerSideEmit;
    req.nsp = nsp;
    req.acked = std::move(cb);
    ask(nsp, std::move(r), std::move(req), timeout);
  }

 private:
  struct Request {
    int type = 0;
    std::string nsp;
    std::size_t expected = 0;  // answers (nodes) awaited
    std::size_t nodes = 0;     // nodes that answered
    std::size_t clients = 0;   // broadcast with acks: clients the nodes reported
    std::size_t acks_seen = 0;
    std::vector<SocketSnapshot> sockets;
    std::vector<Args> answers;
    FetchCallback fetched;
    BroadcastAckCallback acked;
    std::shared_ptr<asio::steady_timer> timer;
  };

  std::string channel(const std::string& nsp) const { return o_.key + "#" + nsp + "#"; }
  std::string request_channel(const std::string& nsp) const { return o_.key + "-request#" + nsp + "#"; }
  std::string response_channel(const std::string& nsp) const { return o_.key + "-response#" + nsp + "#"; }

  // Before start() the handlers wait in the io_context; after stop() they
  // are dropped.
  template <class F>
  void post(F&& f) {
    if (stopped_) return;
    asio::post(ioc_, std::forward<F>(f));
  }

  void publish(std::string ch, std::string msg) {
    pub_->command({"PUBLISH", std::move(ch), std::move(msg)}, [this](std::error_code ec, RedisValue v) {
      if (!ec && v.type != RedisValue::Type::error) {
        if (failed_publishes_ > 0) {
          spdlog::info("cluster adapter: publishing again after {} failed PUBLISH(es)", failed_publishes_);
          failed_publishes_ = 0;
        }
        return;
      }
      // Logged once per run of failures and every 1000th (an outage under
      // load must not flood the log).
      if (failed_publishes_++ % 1000 == 0) {
        spdlog::warn("cluster adapter: PUBLISH failed ({}); the other nodes miss these messages",
                     ec ? ec.message() : v.str);
      }
    });
  }

  void room_request(const std::string& nsp, const Target& t, const std::string& room, int type) {
    json::object r{{"uid", uid_}, {"type", type}, {"opts", opts_json(t)}, {"rooms", json::array{json::value(room)}}};
    post([this, ch = request_channel(nsp), msg = json::serialize(r)]() mutable {
      publish(std::move(ch), std::move(msg));
    });
  }

  // Whether another request may wait; if not, `cb` gets an answer at once.
  template <class Cb>
  bool admit(Cb& cb) {
    if (requests_.size() < o_.max_pending_requests) return true;
    spdlog::warn("cluster adapter: {} requests already wait for other nodes; refusing one more",
                 requests_.size());
    if constexpr (std::is_same_v<Cb, FetchCallback>) {
      cb({});
    } else {
      cb(std::make_error_code(std::errc::timed_out), {});
    }
    return false;
  }

  void count_nodes(const std::string& nsp, std::function<void(long long)> then) {
    pub_->command({"PUBSUB", "NUMSUB", request_channel(nsp)},
                  [then = std::move(then)](std::error_code ec, RedisValue v) {
                    long long n = 0;
                    if (!ec && v.elements.size() == 2) n = v.elements[1].integer;
                    then(n);
                  });
  }

  // A JSON request that waits for one answer per other node.
  void ask(const std::string& nsp, json::object r, Request req, Millis timeout) {
    post([this, nsp, r = std::move(r), req = std::move(req), timeout]() mutable {
      bool ok = req.fetched ? admit(req.fetched) : admit(req.acked);
      if (!ok) return;
      count_nodes(nsp, [this, nsp, r = std::move(r), req = std::move(req), timeout](long long nodes) mutable {
        req.expected = nodes > 0 ? static_cast<std::size_t>(nodes - 1) : 0;
        if (req.expected == 0) return finish(req, false);
        std::string id = random_id().substr(0, 6);
        r["requestId"] = id;
        start_request(id, std::move(req), timeout);
        publish(request_channel(nsp), json::serialize(r));
      });
    });
  }

  void start_request(const std::string& id, Request req, Millis timeout) {
    req.timer = std::make_shared<asio::steady_timer>(ioc_, timeout);
    req.timer->async_wait([this, id](boost::system::error_code ec) {
      if (ec) return;
      auto it = requests_.find(id);
      if (it == requests_.end()) return;
      Request r = std::move(it->second);
      requests_.erase(it);
      spdlog::debug("cluster adapter: request {} timed out ({} of {} nodes answered)", id, r.nodes, r.expected);
      finish(r, true);
    });
    requests_.emplace(id, std::move(req));
  }

  void finish(Request& r, bool timed_out) {
    if (r.timer) r.timer->cancel();
    auto ec = timed_out ? std::make_error_code(std::errc::timed_out) : std::error_code{};
    if (r.fetched) {
      if (timed_out) {
        spdlog::warn("cluster adapter: fetch_sockets in '{}': only {} of {} other nodes answered in time",
                     r.nsp, r.nodes, r.expected);
      }
      r.fetched(std::move(r.sockets));
    } else if (r.acked) {
      r.acked(ec, std::move(r.answers));
    }
  }

  void complete_if_done(const std::string& id) {
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    auto& r = it->second;
    bool done = r.type == kBroadcast ? r.nodes >= r.expected && r.acks_seen >= r.clients : r.nodes >= r.expected;
    if (!done) return;
    Request req = std::move(r);
    requests_.erase(it);
    finish(req, false);
  }

  // --- what other nodes send --------------------------------------------------

  void bad(const char* what, std::string_view channel, const std::string& why) {
    if (++bad_messages_ <= 10 || bad_messages_ % 1000 == 0) {
      spdlog::warn("cluster adapter: dropped a malformed {} on '{}' ({}; {} so far)", what, channel, why,
                   bad_messages_);
    }
  }

  void on_message(std::string_view channel, std::string_view pattern, std::string_view payload) {
    if (!pattern.empty()) return on_broadcast(channel, payload);
    for (const auto& nsp : nsps_) {
      if (channel == request_channel(nsp)) return on_request(nsp, channel, payload);
      if (channel.starts_with(response_channel(nsp))) return on_response(nsp, channel, payload);
    }
  }

  void on_broadcast(std::string_view channel, std::string_view payload) {
    BroadcastMessage m;
    if (auto ec = decode_broadcast(payload, m)) return bad("broadcast", channel, ec.message());
    if (m.uid == uid_) return;
    if (!channel.starts_with(this->channel(m.packet.nsp))) return;
    Namespace* nsp = server_.find_namespace(m.packet.nsp);
    if (nsp == nullptr) return;
    auto [event, args] = split(m.packet.data, std::move(m.packet.attachments));
    if (event.empty()) return bad("broadcast", channel, "no event name");
    Target t;
    t.rooms = std::move(m.opts.rooms);
    t.except = std::move(m.opts.except);
    t.volatile_ = m.opts.flags.is_volatile;
    t.local = true;
    nsp->target(std::move(t)).emit(event, std::move(args));
  }

  void on_request(const std::string& nsp_name, std::string_view channel, std::string_view payload) {
    if (payload.empty()) return bad("request", channel, "empty");
    Namespace* nsp = server_.find_namespace(nsp_name);
    if (nsp == nullptr) return;
    if (payload.front() != '{') {  // msgpack: a broadcast with acks
      BroadcastRequest m;
      if (auto ec = decode_broadcast_request(payload, m)) return bad("request", channel, ec.message());
      if (m.uid == uid_) return;
      return answer_broadcast_with_ack(*nsp, std::move(m));
    }
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec || !v.is_object()) return bad("request", channel, ec ? ec.message() : "not an object");
    auto& r = v.as_object();
    auto* uid = r.if_contains("uid");
    if (uid && uid->is_string() && uid->as_string() == uid_) return;  // ours
    auto* type = r.if_contains("type");
    if (!type || !type->is_int64()) return bad("request", channel, "no type");
    auto* request_id = r.if_contains("requestId");
    std::string id = request_id && request_id->is_string() ? std::string(request_id->as_string()) : "";
    switch (type->as_int64()) {
      case kRemoteJoin:
      case kRemoteLeave: {
        Target t;
        std::vector<std::string> rooms;
        if (r.contains("opts")) {
          t = target_of(r.if_contains("opts"));
          rooms = strings_of(r.if_contains("rooms"));
        } else {  // legacy: one socket (sid), one room
          auto* sid = r.if_contains("sid");
          auto* room = r.if_contains("room");
          if (!sid || !sid->is_string() || !room || !room->is_string()) return bad("request", channel, "no opts");
          t.rooms = {std::string(sid->as_string())};
          t.local = true;
          rooms = {std::string(room->as_string())};
        }
        auto op = nsp->target(t);
        for (const auto& room : rooms) {
          if (type->as_int64() == kRemoteJoin) op.sockets_join(room);
          else op.sockets_leave(room);
        }
        if (!r.contains("opts") && !id.empty()) respond(nsp_name, json::object{{"requestId", id}});
        return;
      }
      case kRemoteDisconnect: {
        auto* close = r.if_contains("close");
        Target t;
        if (r.contains("opts")) {
          t = target_of(r.if_contains("opts"));
        } else if (auto* sid = r.if_contains("sid"); sid && sid->is_string()) {
          t.rooms = {std::string(sid->as_string())};
          t.local = true;
        } else {
          return bad("request", channel, "no opts");
        }
        nsp->target(t).disconnect_sockets(close && close->is_bool() && close->as_bool());
        if (!r.contains("opts") && !id.empty()) respond(nsp_name, json::object{{"requestId", id}});
        return;
      }
      case kSockets:
      case kRemoteFetch: {
        if (id.empty()) return bad("request", channel, "no requestId");
        Target t;
        if (type->as_int64() == kSockets) {
          t.rooms = strings_of(r.if_contains("rooms"));
          t.local = true;
        } else {
          t = target_of(r.if_contains("opts"));
        }
        bool ids_only = type->as_int64() == kSockets;
        std::weak_ptr<RedisAdapterImpl> weak = shared_from_this();
        nsp->target(t).fetch_sockets([weak, nsp_name, id, ids_only](std::vector<SocketSnapshot> sockets) {
          auto self = weak.lock();
          if (!self) return;
          json::array list;
          for (const auto& s : sockets) {
            if (ids_only) list.emplace_back(s.id);
            else list.push_back(snapshot_json(s));
          }
          self->post([self, nsp_name, id, list = std::move(list)]() mutable {
            self->respond(nsp_name, json::object{{"requestId", id}, {"sockets", std::move(list)}});
          });
        });
        return;
      }
      case kServerSideEmit: {
        auto* data = r.if_contains("data");
        if (!data || !data->is_array() || data->as_array().empty() || !data->as_array()[0].is_string()) {
          return bad("request", channel, "no event");
        }
        auto [event, args] = split(*data, {});
        Ack ack;
        if (!id.empty()) {
          std::weak_ptr<RedisAdapterImpl> weak = shared_from_this();
          ack = Ack([weak, nsp_name, id](Args answer) {
            auto self = weak.lock();
            if (!self) return;
            json::value arg = answer.empty() ? json::value(nullptr) : answer[0];
            self->post([self, nsp_name, id, arg = std::move(arg)]() mutable {
              self->publish(self->response_channel(nsp_name),
                            json::serialize(json::object{{"type", kServerSideEmit}, {"requestId", id},
                                                         {"data", std::move(arg)}}));
            });
          });
        }
        nsp->deliver_server_side(event, std::move(args), ack);
        return;
      }
      case kAllRooms: {  // a Node peer's adapter.allRooms(): the rooms of this node's sockets
        if (id.empty()) return bad("request", channel, "no requestId");
        Target all;
        all.local = true;
        std::weak_ptr<RedisAdapterImpl> weak = shared_from_this();
        nsp->target(all).fetch_sockets([weak, nsp_name, id](std::vector<SocketSnapshot> sockets) {
          auto self = weak.lock();
          if (!self) return;
          std::set<std::string> rooms;
          for (const auto& s : sockets) rooms.insert(s.rooms.begin(), s.rooms.end());
          json::array list;
          for (const auto& r : rooms) list.emplace_back(r);
          self->post([self, nsp_name, id, list = std::move(list)]() mutable {
            self->respond(nsp_name, json::object{{"requestId", id}, {"rooms", std::move(list)}});
          });
        });
        return;
      }
      default:
        return bad("request", channel, "unknown type " + std::to_string(type->as_int64()));
    }
  }

  void answer_broadcast_with_ack(Namespace& nsp, BroadcastRequest m) {
    auto [event, args] = split(m.packet.data, std::move(m.packet.attachments));
    if (event.empty()) return;
    Target t;
    t.rooms = std::move(m.opts.rooms);
    t.except = std::move(m.opts.except);
    t.local = true;
    Millis timeout{m.opts.flags.timeout ? static_cast<Millis::rep>(*m.opts.flags.timeout) : 5000};
    std::weak_ptr<RedisAdapterImpl> weak = shared_from_this();
    std::string nsp_name = nsp.name();
    std::string id = m.request_id;
    nsp.target(t).emit_with_acks(
        event, std::move(args), timeout,
        AckHandlers{
            .counted =
                [weak, nsp_name, id](std::size_t n) {
                  if (auto self = weak.lock()) {
                    self->post([self, nsp_name, id, n] {
                      self->respond(nsp_name, json::object{{"type", kBroadcastClientCount},
                                                           {"requestId", id},
                                                           {"clientCount", n}});
                    });
                  }
                },
            .answered =
                [weak, nsp_name, id](std::error_code ec, Args answer) {
                  if (ec) return;  // no answer: nothing to send (Node sends nothing either)
                  auto self = weak.lock();
                  if (!self) return;
                  BroadcastAck a;
                  a.request_id = id;
                  if (!answer.empty()) a.arg = answer[0];
                  a.attachments = answer.attachments();
                  std::string msg;
                  if (auto e = encode_broadcast_ack(a, msg)) {
                    spdlog::warn("cluster adapter: cannot encode an ack: {}", e.message());
                    return;
                  }
                  self->post([self, nsp_name, msg = std::move(msg)]() mutable {
                    self->publish(self->response_channel(nsp_name), std::move(msg));
                  });
                }});
  }

  void respond(const std::string& nsp, const json::object& r) {
    publish(response_channel(nsp), json::serialize(r));
  }

  void on_response(const std::string& nsp, std::string_view channel, std::string_view payload) {
    if (payload.empty()) return bad("response", channel, "empty");
    if (payload.front() != '{') {  // msgpack: a client's ack (type 9)
      BroadcastAck a;
      if (auto ec = decode_broadcast_ack(payload, a)) return bad("response", channel, ec.message());
      auto it = requests_.find(a.request_id);
      if (it == requests_.end() || it->second.type != kBroadcast) return;
      Args answer;
      if (a.arg) answer.push(*a.arg);
      answer.attachments() = std::move(a.attachments);
      it->second.answers.push_back(std::move(answer));
      ++it->second.acks_seen;
      return complete_if_done(a.request_id);
    }
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec || !v.is_object()) return bad("response", channel, ec ? ec.message() : "not an object");
    auto& r = v.as_object();
    auto* rid = r.if_contains("requestId");
    if (!rid || !rid->is_string()) return;
    std::string id(rid->as_string());
    auto it = requests_.find(id);
    if (it == requests_.end()) return;  // another node's, or too late
    auto& req = it->second;
    switch (req.type) {
      case kRemoteFetch: {
        auto* sockets = r.if_contains("sockets");
        if (!sockets || !sockets->is_array()) return;
        for (const auto& s : sockets->as_array()) req.sockets.push_back(snapshot_of(s, nsp));
        ++req.nodes;
        break;
      }
      case kServerSideEmit: {
        Args answer;
        if (auto* d = r.if_contains("data")) answer.push(*d);
        req.answers.push_back(std::move(answer));
        ++req.nodes;
        break;
      }
      case kBroadcast: {
        auto* type = r.if_contains("type");
        auto* count = r.if_contains("clientCount");
        if (!type || !type->is_int64() || type->as_int64() != kBroadcastClientCount || !count ||
            !count->is_number()) {
          return;
        }
        req.clients += static_cast<std::size_t>(count->to_number<double>());
        ++req.nodes;
        break;
      }
      default:
        return;
    }
    complete_if_done(id);
  }

  Server& server_;
  RedisAdapterOptions o_;
  std::string uid_;
  asio::io_context ioc_{1};
  std::shared_ptr<redis::RedisClient> pub_;
  std::shared_ptr<redis::Subscriber> sub_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};

  // Adapter thread only.
  std::set<std::string> nsps_;
  std::unordered_map<std::string, Request> requests_;
  bool was_up_ = false;
  std::uint64_t bad_messages_ = 0;
  std::uint64_t failed_publishes_ = 0;
};

}  // namespace

std::shared_ptr<RedisAdapter> RedisAdapter::create(Server& server, RedisAdapterOptions options) {
  return std::make_shared<RedisAdapterImpl>(server, std::move(options));
}

}  // namespace rollcall::cluster
