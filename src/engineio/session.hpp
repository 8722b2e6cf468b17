// Engine.IO v4 session: heartbeat, polling and WebSocket transports, upgrade.
// A session lives on one loop; all its methods run there.
#pragma once

#include "engineio/budget.hpp"
#include "engineio/options.hpp"
#include "engineio/close_reason.hpp"
#include "engineio/packet.hpp"
#include "common/fifo.hpp"
#include "engineio/frame.hpp"

#include <rollcall/server.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollcall {
struct Loop;
}

namespace rollcall::engineio {

class Session;

// The layer above Engine.IO (Socket.IO, or the echo endpoint).
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  virtual void on_message(std::string_view data, bool binary) = 0;
  // The session is closing; the handler may still queue final packets.
  virtual void on_close(CloseReason reason) = 0;
};

// A WebSocket connection as seen by a session.
class WsLink {
 public:
  virtual ~WsLink() = default;
  // False when the frame put the connection over its budget: the link
  // then tears itself down and reports on_ws_closed.
  virtual bool send(const Frame& f) = 0;
  // Flushes what is queued, then closes the connection.
  virtual void close() = 0;
  virtual std::size_t queued_bytes() const noexcept = 0;
  // Reads and handles now what the connection has received so far.
  virtual void read_pending() = 0;
};

// One Engine.IO endpoint (a path with its options and handler factory).
struct Engine {
  std::string path;
  Options options;
  std::function<std::unique_ptr<SessionHandler>(Session&)> make_handler;
  mutable BudgetPool unauthenticated;  // bytes held by its sessions before authentication
};

// Completes a long-poll GET: status and body (body is a payload for 200).
using PollResponder = std::function<void(int status, std::string body)>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Loop& loop, const Engine& engine, std::string sid, bool websocket,
          std::shared_ptr<const Handshake> handshake);
  ~Session();

  const std::string& sid() const noexcept { return sid_; }
  Loop& loop() noexcept { return loop_; }
  const Engine& engine() const noexcept { return engine_; }
  const Options& options() const noexcept { return engine_.options; }
  const std::shared_ptr<const Handshake>& handshake() const noexcept { return handshake_; }
  bool websocket() const noexcept { return websocket_; }
  bool upgrading() const noexcept { return static_cast<bool>(probe_); }
  // A polling request came while an upgrade is in progress: first handle
  // what the probing WebSocket has received. The client's "5" and its next
  // HTTP request travel on different connections, and the loop would serve
  // whichever it notices first; the kernel has them in the order they were
  // sent, so reading the WebSocket first applies them in that order.
  void read_probe();
  bool closed() const noexcept { return closed_; }
  // A request for this session arrived: if the client's pong is overdue
  // and only the loop has not yet run the timeout (it was busy), closes
  // the session now (ping timeout) and returns true. So a request that
  // comes after the deadline finds the session gone, whichever of the two
  // the loop serves first.
  bool close_if_overdue();
  SessionHandler* handler() noexcept { return handler_.get(); }
  // What this client's connection holds (engineio/budget.hpp). The
  // aliasing pointer keeps the session alive for a WebSocket connection
  // that outlives it while it closes.
  Budget& budget() noexcept { return budget_; }
  std::shared_ptr<Budget> shared_budget() { return {shared_from_this(), &budget_}; }

  // "0{...}" open packet.
  std::string open_packet() const;
  // Registers the session in its loop, creates the handler, starts the heartbeat.
  void start();

  // Queues a packet. Volatile packets are dropped when the transport is not
  // ready. Returns false when the packet was dropped.
  bool send(const Frame& f, bool volatile_ = false);
  // Server-side close (reason as Node names it).
  void close(CloseReason reason);

  // Polling transport.
  void poll_get(PollResponder respond);
  void poll_aborted();  // the client went away while a GET was pending
  // Returns the HTTP status: 200, or 400 after a parse error (session closed).
  int poll_post(std::string_view body);

  // Called by the loop's HeartbeatWheel; stale generations are ignored.
  void on_heartbeat(std::uint32_t gen);

  // WebSocket transport.
  void attach_websocket(std::shared_ptr<WsLink> link);  // WebSocket-only session
  bool begin_upgrade(std::shared_ptr<WsLink> probe);
  void on_ws_message(WsLink* from, std::string_view data, bool binary);
  void on_ws_closed(WsLink* from, CloseReason reason);

 private:
  void on_packet(Packet&& p);
  void schedule_ping();
  void schedule_pong_deadline();
  void schedule_flush();
  void flush_poll();
  void finish_upgrade();
  void shutdown(CloseReason reason, bool send_close_packet);
  void forget();
  void linger();
  void close_later(CloseReason reason);

  Loop& loop_;
  const Engine& engine_;
  std::string sid_;
  std::shared_ptr<const Handshake> handshake_;
  Budget budget_;
  std::unique_ptr<SessionHandler> handler_;
  std::unique_ptr<boost::asio::steady_timer> upgrade_timer_;
  std::shared_ptr<WsLink> link_;   // active WebSocket
  std::shared_ptr<WsLink> probe_;  // WebSocket being probed for an upgrade
  Fifo<Frame> queue_;              // polling: packets waiting for a GET
  std::size_t queued_bytes_ = 0;
  std::uint32_t heartbeat_gen_ = 0;  // bumped to cancel a scheduled heartbeat
  PollResponder pending_get_;
  bool websocket_ = false;
  bool awaiting_pong_ = false;
  std::chrono::steady_clock::time_point pong_deadline_;  // while awaiting_pong_
  bool flush_scheduled_ = false;
  bool closing_ = false;  // close requested: deliver the last packets, then go
  bool closed_ = false;
  bool started_ = false;
  bool close_posted_ = false;
  bool lingering_ = false;  // closed by the client; waiting for a GET on its way (linger())
};

}  // namespace rollcall::engineio
