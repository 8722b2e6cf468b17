// Socket.IO server internals: namespaces, sockets, rooms, broadcast fan-out.
#pragma once

#include "engineio/session.hpp"
#include "engineio/frame.hpp"
#include "socketio/packet.hpp"
#include "socketio/room_members.hpp"

#include <rollcall/adapter.hpp>
#include <rollcall/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rollcall {
struct Loop;
}  // namespace rollcall

namespace rollcall::detail {

class SocketImpl;
class NamespaceImpl;
class Client;
class RecoveryStore;
struct Core;

// A Socket.IO packet encoded once: the text frame plus its binary attachments.
struct Encoded {
  Frame text;
  std::vector<Frame> attachments;
};
using EncodedPtr = std::shared_ptr<const Encoded>;

// Encodes a packet (type chosen from the attachments) into frames.
EncodedPtr encode(socketio::PacketType type, const std::string& nsp,
                  std::optional<std::uint64_t> id, boost::json::value data,
                  const std::vector<Bytes>& attachments);

using Target = BroadcastOperator::Target;

// Per-loop view of a namespace: only the owning loop touches it.
struct NamespaceLocal {
  std::unordered_map<std::string_view, SocketImpl*> sockets;  // by socket id (views SocketImpl::id_)
  std::unordered_map<std::string, RoomMembers> rooms;

  // Calls fn for each socket matching the target exactly once. A socket id
  // is a room of its own (not stored in `rooms`).
  template <class Fn>
  void for_each(Loop& loop, const Target& t, Fn&& fn);
};

// Cross-node fan-out seam. The local adapter reaches every loop of this
// process; a cluster adapter (later) also publishes to other nodes.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual void broadcast(NamespaceImpl& nsp, EncodedPtr packet, const Target& target) = 0;
  // Runs `op` on every loop against the sockets matching the target.
  // `done`, if set, runs on each loop after `op`, with how many sockets it
  // matched there.
  virtual void apply(NamespaceImpl& nsp, const Target& target,
                     std::function<void(SocketImpl&)> op,
                     std::function<void(std::size_t matched)> done = {}) = 0;
  // Snapshots of the sockets matching the target; `cb` runs once, on a loop.
  virtual void fetch(NamespaceImpl& nsp, const Target& target, FetchCallback cb) = 0;
};

// Node's serialised handshake of a socket ({headers, time, address,
// xdomain, secure, issued, url, query, auth}).
boost::json::object handshake_json(const SocketImpl& s);
SocketSnapshot snapshot(const SocketImpl& s);

class NamespaceImpl final : public Namespace {
 public:
  NamespaceImpl(Core& server, std::string name, NamespaceImpl* parent = nullptr);

  Core& server;
  std::string name_;
  NamespaceImpl* parent = nullptr;  // dynamic parent, if created from one
  std::function<bool(const std::string&, const boost::json::object&)> predicate;  // parents only
  std::vector<Middleware> middlewares;
  std::vector<ConnectionHandler> connection_handlers;
  std::vector<std::pair<std::string, EventHandler>> server_side_handlers;
  std::vector<NamespaceLocal> locals;  // one per loop
  std::atomic<std::size_t> count{0};

  NamespaceLocal& local(const Loop& loop);
  const std::vector<Middleware>& effective_middlewares() const {
    return parent ? parent->middlewares : middlewares;
  }
  void run_connection_handlers(Socket& s);
  BroadcastOperator op(Target t) const;

  // Emits through the adapter (offset added when recovery is on).
  void broadcast(std::string_view event, Args args, const Target& target);
};

class SocketImpl final : public Socket, public std::enable_shared_from_this<SocketImpl> {
 public:
  SocketImpl(NamespaceImpl& nsp, Client& client, std::string id, std::string pid,
             std::shared_ptr<const Handshake> handshake, boost::json::object auth);
  ~SocketImpl();

  NamespaceImpl& nsp_;
  Client* client_;  // null once disconnected
  std::string id_;
  std::string pid_;  // private id for connection state recovery (empty if off)
  std::shared_ptr<const Handshake> handshake_;
  boost::json::object auth_;
  boost::json::object data_;
  // Small flat containers: a socket has a few rooms and handlers, and a
  // connection keeps them for its whole life (hash maps cost ~100 bytes a node).
  std::vector<std::string> rooms_;  // without the socket's own id
  std::vector<std::pair<std::string, EventHandler>> handlers_;
  // Catch-all and disconnect listeners: most sockets have none, so they
  // live in a block allocated by the first one.
  struct Listeners {
    std::vector<AnyHandler> any;
    std::vector<DisconnectHandler> disconnect;
  };
  std::unique_ptr<Listeners> listeners_;
  Listeners& listeners() {
    if (!listeners_) listeners_ = std::make_unique<Listeners>();
    return *listeners_;
  }
  struct PendingAck {
    AckCallback cb;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  // Acks the server waits for from this client: few at a time, and a flat
  // vector costs nothing while there are none (a hash map keeps ~56 bytes).
  std::vector<std::pair<std::uint64_t, PendingAck>> acks_;
  auto find_ack(std::uint64_t id) {
    return std::find_if(acks_.begin(), acks_.end(), [id](const auto& a) { return a.first == id; });
  }
  void drop_ack(decltype(acks_)::iterator it) {
    acks_.erase(it);
    if (acks_.empty()) acks_.shrink_to_fit();
  }
  std::uint64_t next_ack_ = 0;
  std::uint64_t mark_ = 0;  // broadcast de-duplication epoch
  std::optional<User> user_;
  bool connected_ = false;
  bool recovered_ = false;

  void send_packet(const Encoded& e, bool volatile_ = false);
  void on_packet(socketio::Packet&& p, std::vector<Bytes>&& attachments);
  void on_close(engineio::CloseReason reason);
  void join_all(const std::vector<std::string>& rooms);
};

// The Socket.IO side of one Engine.IO session (Node's Client).
class Client final : public engineio::SessionHandler {
 public:
  Client(Core& server, engineio::Session& session);
  ~Client() override;

  void on_message(std::string_view data, bool binary) override;
  void on_close(engineio::CloseReason reason) override;

  void send(const Encoded& e, bool volatile_ = false);
  void remove(SocketImpl& s);
  // Socket::disconnect(true): every socket gets DISCONNECT, then the session closes.
  void disconnect_all();
  engineio::Session& session() { return session_; }
  Core& server() { return server_; }
  void close(engineio::CloseReason reason) { session_.close(reason); }

 private:
  void dispatch(socketio::Packet&& p, std::vector<Bytes>&& attachments);
  void connect(const std::string& nsp, boost::json::value auth);
  void run_middlewares(NamespaceImpl& nsp, std::shared_ptr<SocketImpl> socket,
                       std::vector<EncodedPtr> missed);
  void finish_connect(NamespaceImpl& nsp, std::shared_ptr<SocketImpl> socket,
                      std::vector<EncodedPtr> missed);
  void fail(const char* what);

  Core& server_;
  engineio::Session& session_;
  std::shared_ptr<bool> alive_;  // lets async middleware chains detect teardown
  std::vector<std::pair<NamespaceImpl*, std::shared_ptr<SocketImpl>>> sockets_;
  std::vector<NamespaceImpl*> connecting_;  // CONNECTs waiting for middlewares (few)
  void done_connecting(NamespaceImpl* nsp) {
    std::erase(connecting_, nsp);
    if (connecting_.empty()) connecting_.shrink_to_fit();  // kept for the connection's life otherwise
  }
  // A binary packet awaiting its attachments (allocated only then).
  struct Partial {
    socketio::Packet packet;
    std::vector<Bytes> bins;
    std::size_t held = 0;  // bytes of `bins`, in the session's budget
  };
  std::unique_ptr<Partial> partial_;
  void drop_partial();
  std::unique_ptr<boost::asio::steady_timer> connect_timer_;
};


// The Socket.IO server: its loops, namespaces, fan-out and recovery, and
// the lifecycle hooks features attach to (Server::observe_sockets,
// Server::on_disconnect). The composition root (src/server) owns one and
// adds the transports, routes and features.
struct Core {
  explicit Core(ServerOptions o);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  ServerOptions options;
  std::vector<std::unique_ptr<Loop>> loops;
  std::unique_ptr<Adapter> adapter;
  std::unique_ptr<RecoveryStore> recovery;

  mutable std::shared_mutex nsp_mutex;  // guards the two containers below
  std::unordered_map<std::string, std::unique_ptr<NamespaceImpl>> namespaces;
  std::vector<std::unique_ptr<NamespaceImpl>> dynamic_parents;
  std::vector<DisconnectHandler> disconnect_handlers;
  // Server::observe_sockets, in the order they were added (features the
  // composition root turns on first, then the embedder's).
  struct SocketObserver {
    ConnectionHandler connected;
    DisconnectHandler disconnected;
  };
  std::vector<SocketObserver> socket_observers;
  // The other nodes, when a cluster adapter is set (before run()).
  std::shared_ptr<ClusterAdapter> cluster;

  NamespaceImpl& get_or_create(std::string_view name);
  // The namespace for a CONNECT, created from a dynamic parent if one
  // accepts it; nullptr if none.
  NamespaceImpl* resolve(const std::string& name, const boost::json::object& auth);
  // The Socket.IO side of a new Engine.IO session.
  std::unique_ptr<engineio::SessionHandler> make_client(engineio::Session& session);
};

}  // namespace rollcall::detail
