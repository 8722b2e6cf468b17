// rollcall public C++ API: a Socket.IO v5 server you can embed.
//
//   rollcall::Server io({.threads = 4});
//   io.of("/").on_connection([](rollcall::Socket& socket) {
//     socket.on("chat", [&socket](rollcall::Args args, rollcall::Ack ack) {
//       socket.to("lobby").emit("chat", args);
//       if (ack) ack(rollcall::Args::of("ok"));
//     });
//   });
//   io.listen("127.0.0.1", 3000);
//   io.run();  // blocks until stop()
//
// Threading: the server runs one event loop per thread. A socket lives on one
// loop for its whole life; its handlers run there, and its methods must be
// called there (from its handlers, or through Socket::post). Broadcasts
// (Server/Namespace/BroadcastOperator::emit) may be called from any thread.
#pragma once

#include <rollcall/args.hpp>
#include <rollcall/presence.hpp>
#include <rollcall/stats.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace rollcall {

using Millis = std::chrono::milliseconds;

struct CorsOptions {
  // Allowed origins; "*" allows any. Empty: no CORS headers (same-origin only).
  std::vector<std::string> origins;
  bool credentials = false;
};

struct RecoveryOptions {
  bool enabled = false;
  Millis max_disconnection{120000};  // how long a disconnected session is kept
  bool skip_middlewares = true;      // a recovered socket skips middlewares
  std::size_t max_packets = 100000;  // cap of the missed-packet buffer
};

struct ServerOptions {
  std::string path = "/socket.io/";
  unsigned threads = 0;  // 0 = number of cores
  Millis ping_interval{25000};
  Millis ping_timeout{20000};
  Millis upgrade_timeout{10000};
  Millis connect_timeout{45000};  // Engine.IO session without a namespace is closed
  std::size_t max_payload = 1000000;  // max bytes of one client message / POST body
  // Largest request body of an application route (add_http_route): a
  // larger Content-Length (or a chunked body growing past it) is answered
  // 413 without calling the handler (docs/deployment.md, "HTTP limits").
  std::size_t max_http_body = 64 * 1024;
  bool allow_polling = true;
  bool allow_websocket = true;
  std::size_t max_attachments = 10;
  // Per-connection outgoing queue limit (messages and control frames).
  // Volatile packets are dropped first when a consumer is behind; past
  // this limit the connection is closed.
  std::size_t max_write_queue_bytes = 4 * 1024 * 1024;
  // Until a client has connected to a namespace (passed the middlewares),
  // everything its connection holds, both ways, is limited to this, and
  // all such connections together to max_unauthenticated_total. Past
  // either, the connection is closed (docs/deployment.md, "Limits").
  std::size_t max_unauthenticated_bytes = 64 * 1024;
  std::size_t max_unauthenticated_total = 64 * 1024 * 1024;
  CorsOptions cors;
  RecoveryOptions recovery;
  // Per-user presence over the sockets that have a User (Socket::set_user).
  PresenceOptions presence;
};

// A plain HTTP endpoint served next to Socket.IO (Server::add_http_route).
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // More header fields, e.g. {"Allow", "GET"} with a 405. (The `{}` keeps
  // GCC's -Wmissing-field-initializers quiet where it is left out.)
  std::vector<std::pair<std::string, std::string>> headers{};
};
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// An answer given later, from any thread (Server::add_async_http_route).
// Call it once; later calls are ignored. If every copy is destroyed
// unanswered, the client gets 500.
using HttpRespond = std::function<void(HttpResponse)>;
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpRespond respond)>;

// True if `s` is valid UTF-8 (no overlong forms, no surrogates, at most
// U+10FFFF). HttpRequest::path and query are percent-decoded and may hold
// any bytes: check them before echoing them in JSON.
bool valid_utf8(std::string_view s) noexcept;

// `url` as it may be logged or shown: the password of
// "scheme://user:password@host..." replaced by "***"; anything else as is.
std::string redact_url(std::string_view url);

// Error passed to middleware `next`: the client receives connect_error with
// {message, data}.
struct ConnectError {
  std::string message;
  boost::json::value data;  // null = omitted
};

// Name/value fields (headers, query parameters) packed in one buffer: a
// connection keeps its handshake for its whole life, so it stays small.
class FieldList {
 public:
  void add(std::string_view name, std::string_view value);
  // Room for fields of `bytes` name and value characters in all, `count` fields.
  void reserve(std::size_t bytes, std::size_t count) { data_.reserve(bytes + 2 * count); }
  // The value of the first field called `name`.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  std::vector<std::pair<std::string_view, std::string_view>> all() const;
  bool empty() const noexcept { return data_.empty(); }

 private:
  // Splits the next field off the front of `rest`; false when none is left.
  static bool next(std::string_view& rest, std::string_view& name, std::string_view& value);

  std::string data_;  // name '\0' value '\0' ...
};

struct Handshake {
  FieldList headers;  // lower-case names
  FieldList query;
  std::string address;  // peer IP
  std::string url;
  std::int64_t issued = 0;  // ms since epoch
  bool secure = false;
  bool xdomain = false;  // an Origin header was present
};

class Socket;
class Namespace;
class Server;
class ClusterAdapter;
class Notifications;
namespace detail {
class NamespaceImpl;
class SocketImpl;
}  // namespace detail

// Acknowledgement callback handed to event handlers. Empty (false) when the
// client asked for no ack. Calling it more than once sends only the first.
class Ack {
 public:
  Ack() = default;
  explicit Ack(std::function<void(Args)> fn)
      : fn_(std::make_shared<std::function<void(Args)>>(std::move(fn))) {}
  explicit operator bool() const noexcept { return fn_ && *fn_; }
  void operator()(Args args = {});

 private:
  std::shared_ptr<std::function<void(Args)>> fn_;  // shared: copies answer once in all
};

using EventHandler = std::function<void(Args args, Ack ack)>;
using AnyHandler = std::function<void(const std::string& event, Args args, Ack ack)>;
// ec: {} on success, std::errc::timed_out, or std::errc::not_connected when the
// socket disconnected first.
using AckCallback = std::function<void(std::error_code ec, Args response)>;
// A broadcast's acknowledgements: one Args per socket that answered. ec is
// std::errc::timed_out when some did not answer within the timeout (their
// answers are missing), else {}.
using BroadcastAckCallback = std::function<void(std::error_code ec, std::vector<Args> responses)>;
// For adapters answering another node's broadcast with acks as the answers
// come (BroadcastOperator::emit_with_acks).
struct AckHandlers {
  std::function<void(std::size_t sockets)> counted;  // once: how many sockets were asked
  // Once per socket: its answer, or timed_out / not_connected.
  std::function<void(std::error_code ec, Args answer)> answered;
};
using Next = std::function<void(std::optional<ConnectError>)>;
using Middleware = std::function<void(Socket& socket, Next next)>;
using ConnectionHandler = std::function<void(Socket& socket)>;
using DisconnectHandler = std::function<void(Socket& socket, const std::string& reason)>;

// A socket as fetch_sockets() sees it: a snapshot taken on the socket's
// loop (Node's RemoteSocket without its methods; reach the socket with
// io.to(snapshot.id)). With a cluster adapter it may be on another node.
struct SocketSnapshot {
  std::string id;
  std::string nsp;
  std::vector<std::string> rooms;  // the socket's own id first
  boost::json::object data;        // Socket::data() when it was taken
  // As Node serialises a handshake: {headers, time, address, xdomain,
  // secure, issued, url, query, auth}.
  boost::json::object handshake;
};
using FetchCallback = std::function<void(std::vector<SocketSnapshot> sockets)>;

struct EmitOptions {
  bool volatile_ = false;  // may be dropped if the client is not ready for it
};

// Target selection for a broadcast: io.to("a").to("b").except("c").emit(...).
// Cheap to copy; thread-safe.
class BroadcastOperator {
 public:
  BroadcastOperator to(std::string room) const;
  BroadcastOperator in(std::string room) const { return to(std::move(room)); }
  BroadcastOperator except(std::string room) const;
  BroadcastOperator volatile_() const;
  // Only this node (relevant once a cluster adapter is configured).
  BroadcastOperator local() const;

  // Encodes the packet once and hands the same buffer to every recipient.
  void emit(std::string_view event, Args args = {}) const;
  // Node's io.timeout(ms).emit(event, ...args, cb): every matching socket
  // is asked for an ack; `cb` runs once, on a loop, when all have answered
  // or their `timeout` has passed.
  void emit_with_ack(std::string_view event, Args args, Millis timeout,
                     BroadcastAckCallback cb) const;
  // The same, answer by answer (this node only: for adapters).
  void emit_with_acks(std::string_view event, Args args, Millis timeout, AckHandlers handlers) const;
  // Disconnects every matching socket ("server namespace disconnect").
  void disconnect_sockets(bool close = false) const;
  void sockets_join(std::string room) const;
  void sockets_leave(std::string room) const;
  // Snapshots of every matching socket (Node's fetchSockets). `cb` runs
  // once, on one of the server's loops, when every loop has answered.
  void fetch_sockets(FetchCallback cb) const;

  struct Target {
    std::vector<std::string> rooms;
    std::vector<std::string> except;
    bool volatile_ = false;
    bool local = false;
  };

 private:
  friend class Namespace;
  friend class Socket;
  friend class detail::NamespaceImpl;
  BroadcastOperator(void* nsp, Target t) : nsp_(nsp), target_(std::move(t)) {}
  void* nsp_;  // detail::NamespaceImpl*
  Target target_;
};

class Socket {
 public:
  const std::string& id() const noexcept;
  const std::string& nsp() const noexcept;
  // The Engine.IO handshake request (shared by every namespace the client
  // joins over the same connection).
  const Handshake& handshake() const noexcept;
  // The CONNECT payload of this namespace connection (Node's handshake.auth).
  const boost::json::object& auth() const noexcept;
  boost::json::object& data() noexcept;  // free per-socket application data
  bool connected() const noexcept;
  bool recovered() const noexcept;  // restored by connection state recovery
  // Identity (set it in a middleware): the socket joins user:<id>,
  // org:<org> and org:<org>:role:<role> and counts towards presence.
  void set_user(User user);
  const User* user() const noexcept;
  std::string transport() const;    // "polling" or "websocket"

  void on(std::string event, EventHandler handler);
  void on_any(AnyHandler handler);
  void on_disconnect(DisconnectHandler handler);

  void emit(std::string_view event, Args args = {}, EmitOptions opts = {});
  void emit_with_ack(std::string_view event, Args args, Millis timeout, AckCallback cb);

  void join(std::string room);
  void leave(const std::string& room);
  std::vector<std::string> rooms() const;

  // Broadcast to a room, excluding this socket.
  BroadcastOperator to(std::string room) const;
  // Broadcast to the whole namespace, excluding this socket.
  BroadcastOperator broadcast() const;

  // Sends DISCONNECT; with close=true also closes the underlying connection.
  void disconnect(bool close = false);

  // Runs fn on this socket's loop (safe from any thread) if it is still connected.
  void post(std::function<void(Socket&)> fn);
  // The loop this socket lives on, 0 .. Server::threads() - 1: state kept
  // per loop and indexed by it is only ever touched by that loop's thread.
  // Its Asio executor: rollcall::executor(socket) in <rollcall/asio.hpp>.
  unsigned loop_index() const noexcept;

  std::weak_ptr<Socket> weak() const;

 protected:
  Socket() = default;
  ~Socket() = default;
};

class Namespace {
 public:
  const std::string& name() const noexcept;
  // Middlewares run in order on every CONNECT; call next() to accept,
  // next(ConnectError{...}) to refuse, now or later, from any thread
  // (called off the socket's loop, it is posted there).
  Namespace& use(Middleware mw);
  Namespace& on_connection(ConnectionHandler handler);

  BroadcastOperator to(std::string room) const;
  BroadcastOperator in(std::string room) const { return to(std::move(room)); }
  BroadcastOperator except(std::string room) const;
  BroadcastOperator volatile_() const;
  void emit(std::string_view event, Args args = {}) const;
  void disconnect_sockets(bool close = false) const;
  void fetch_sockets(FetchCallback cb) const;
  // A broadcast operator for a whole target (adapters apply other nodes'
  // operations with target(t).local()).
  BroadcastOperator target(BroadcastOperator::Target t) const;

  // Node's serverSideEmit: to the handlers of `event` on the other nodes
  // of a cluster (never this node's own; nothing without a cluster
  // adapter). With an ack: one answer per other node.
  void server_side_emit(std::string_view event, Args args = {}) const;
  void server_side_emit_with_ack(std::string_view event, Args args, Millis timeout,
                                 BroadcastAckCallback cb) const;
  // Handles other nodes' server_side_emit of `event` (configure before
  // run()); `ack` is empty when the sender wants no answer.
  Namespace& on_server_side(std::string event, EventHandler handler);
  // For adapters: runs this node's handlers of a server-side event.
  void deliver_server_side(const std::string& event, Args args, Ack ack) const;

  // Number of sockets connected to this namespace on this node (all loops).
  std::size_t size() const noexcept;

 protected:
  Namespace() = default;
  ~Namespace() = default;
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Static namespace (created on first use). Configure before run().
  Namespace& of(std::string_view name);
  // Dynamic namespaces: a CONNECT to an unknown namespace for which the
  // predicate returns true creates it; the returned parent's middlewares and
  // connection handlers apply to each child.
  Namespace& of(std::function<bool(const std::string& name, const boost::json::object& auth)> predicate);
  Namespace& sockets() { return of("/"); }
  // The namespace called `name` if it exists (static, or a dynamic one a
  // client has created), else null. Never creates one; safe from any thread.
  Namespace* find_namespace(std::string_view name) noexcept;

  void use(Middleware mw) { of("/").use(std::move(mw)); }
  void on_connection(ConnectionHandler h) { of("/").on_connection(std::move(h)); }
  BroadcastOperator to(std::string room) { return of("/").to(std::move(room)); }
  BroadcastOperator except(std::string room) { return of("/").except(std::move(room)); }
  void emit(std::string_view event, Args args = {}) { of("/").emit(event, std::move(args)); }

  // Called for every socket disconnect in any namespace (after the socket's
  // own handlers), with the reason as Node's socket.io names it.
  void on_disconnect(DisconnectHandler handler);

  // Observers of every socket of every namespace, for features that
  // follow sockets (presence is one): `connected` runs once a socket has
  // connected (after the middlewares and the CONNECT reply, before the
  // namespace's connection handlers), `disconnected` when it goes (before
  // its own disconnect handlers and on_disconnect's), with the reason as
  // Node names it. Both run on the socket's loop, in the order the
  // observers were added; a socket an observer disconnects is not shown to
  // the later ones. Either may be empty. Add them before run().
  void observe_sockets(ConnectionHandler connected, DisconnectHandler disconnected);
  // Extends broadcasts, room operations, fetch_sockets, acks and
  // server-side events to other nodes (<rollcall/adapter.hpp>). Set it
  // before run(); at most once.
  void set_cluster_adapter(std::shared_ptr<ClusterAdapter> adapter);

  // Presence of the users behind the sockets (see presence.hpp).
  Presence& presence();
  // Replaces the built-in presence (which then never starts) with another
  // implementation, e.g. the Redis cluster's; it follows sockets through
  // observe_sockets itself. Before run().
  void set_presence(std::shared_ptr<Presence> presence);

  // Serves `handler` for the requests to `route`, whatever their method
  // (the handler answers 405 to those it does not take). A route ending in
  // '/' ("/v1/") serves every path under it; any other ("/healthz") that
  // exact path only, so "/healthzXYZ" and "/healthz/x" are not served by
  // it. Paths are compared percent-decoded, without the query; the first
  // route added that matches serves; no match answers 404. Bodies above
  // ServerOptions::max_http_body are refused with 413 before the handler
  // runs. Handlers run on a loop thread: keep them short.
  void add_http_route(std::string route, HttpHandler handler);
  // The same for handlers that answer later (after a database query on
  // another thread): the loop serves other connections meanwhile.
  void add_async_http_route(std::string route, AsyncHttpHandler handler);

  // Organisation notifications (<rollcall/notifications.hpp>), once a
  // rollcall::Notifications was made for this server; throws
  // std::logic_error before.
  Notifications& notifications();
  // For rollcall::Notifications, which registers itself (null: detaches).
  void set_notifications(Notifications* notifications) noexcept;

  // A bare Engine.IO endpoint that echoes every message (text or binary);
  // used by the conformance mode. Uses its own heartbeat/payload options.
  void add_engine_echo(std::string path, ServerOptions engine_options);

  // Binds and starts listening (throws std::system_error on failure).
  // Port 0 picks a free port; see port().
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const noexcept;

  // Runs the event loops; blocks until stop() and the drain have finished.
  void run();
  // Graceful shutdown, callable from any thread or a signal handler's
  // asio::signal_set: stop accepting, disconnect sockets ("server shutting
  // down"), flush what is queued, then return from run(). Bounded by `drain`.
  void stop(Millis drain = Millis{2000});

  const ServerOptions& options() const noexcept;
  unsigned threads() const noexcept;

  // Counts the sockets of every namespace by transport on every loop, and
  // adds the traffic counters and loop lag (<rollcall/stats.hpp>). `cb`
  // runs once, on one of the loops, when all have answered; never if the
  // server stops first. Call it while the server runs, from any thread.
  void collect_stats(std::function<void(ServerStats)> cb) const;

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollcall
