#include "engineio/session.hpp"
#include "common/encoding.hpp"

#include "engineio/loop.hpp"
#include "engineio/transport.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/object.hpp>
#include <spdlog/spdlog.h>

namespace rollcall::engineio {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kTrimAfterBytes = 1 << 20;
// How long a polling session closed by its client's close packet waits for
// a GET the client sent before that packet (see Session::linger).
constexpr std::chrono::milliseconds kCloseLinger{1000};
}  // namespace

Session::Session(Loop& loop, const Engine& engine, std::string sid, bool websocket,
                 std::shared_ptr<const Handshake> handshake)
    : loop_(loop),
      engine_(engine),
      sid_(std::move(sid)),
      handshake_(std::move(handshake)),
      budget_(engine.options, engine.unauthenticated, sid_),
      websocket_(websocket) {}

Session::~Session() {
  // Runs after the connection's buffers are gone: a client that made us
  // hold megabytes leaves them to the system, not to the heap's free lists.
  if (budget_.peak() >= kTrimAfterBytes) loop_.trim_heap_soon();
}

std::string Session::open_packet() const {
  boost::json::object o;
  o["sid"] = sid_;
  boost::json::array up;
  if (!websocket_ && options().allow_websocket) up.emplace_back("websocket");
  o["upgrades"] = std::move(up);
  o["pingInterval"] = options().ping_interval.count();
  o["pingTimeout"] = options().ping_timeout.count();
  o["maxPayload"] = options().max_payload;
  return "0" + boost::json::serialize(o);
}

void Session::start() {
  started_ = true;
  loop_.sessions.emplace(sid_, shared_from_this());
  handler_ = engine_.make_handler(*this);
  schedule_ping();
}

// Heartbeats due close together share one wake-up: a long interval is
// rounded by up to 1/25 of itself (at most one second; 25 s pings get 1 s).
// Pings may go out early, which clients accept; the pong deadline only
// ever fires late, so a client always gets its full ping timeout. Short
// intervals (as in the conformance suites) stay exact.
static std::chrono::milliseconds heartbeat_slack(std::chrono::milliseconds delay) {
  if (delay < std::chrono::seconds(1)) return std::chrono::milliseconds(0);
  return std::min<std::chrono::milliseconds>(delay / 25, std::chrono::seconds(1));
}

void Session::schedule_ping() {
  auto delay = options().ping_interval;
  loop_.heartbeat.schedule(shared_from_this(), ++heartbeat_gen_,
                           HeartbeatWheel::Clock::now() + delay, heartbeat_slack(delay));
}

void Session::schedule_pong_deadline() {
  auto delay = options().ping_timeout;
  auto slack = heartbeat_slack(delay);
  pong_deadline_ = HeartbeatWheel::Clock::now() + delay + slack;
  loop_.heartbeat.schedule(shared_from_this(), ++heartbeat_gen_, pong_deadline_, slack);
}

void Session::read_probe() {
  if (!probe_) return;
  auto probe = probe_;  // it may finish the upgrade, or fail, meanwhile
  probe->read_pending();
}

bool Session::close_if_overdue() {
  if (!awaiting_pong_ || closed_ || closing_) return false;
  if (HeartbeatWheel::Clock::now() < pong_deadline_) return false;
  close(CloseReason::ping_timeout);
  return true;
}

void Session::on_heartbeat(std::uint32_t gen) {
  if (gen != heartbeat_gen_) return;
  if (lingering_) {
    forget();  // no GET came
    return;
  }
  if (closed_ || closing_) return;
  if (awaiting_pong_) {
    close(CloseReason::ping_timeout);
    return;
  }
  awaiting_pong_ = true;
  send(loop_.ping);
  schedule_pong_deadline();
}

bool Session::send(const Frame& f, bool volatile_) {
  if (closed_ || close_posted_) return false;
  if (websocket_) {
    if (!link_) return false;
    if (volatile_ && link_->queued_bytes() > 64 * 1024) return false;
    return link_->send(f);  // over budget: the link closes and tells us
  }
  if (volatile_ && !pending_get_) return false;
  if (!budget_.add(Budget::Side::out, queued_bytes_, f.size())) {
    close_later(CloseReason::transport_error);
    return false;
  }
  queue_.push_back(f);
  if (pending_get_) schedule_flush();
  return true;
}

void Session::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  asio::post(loop_.ioc, [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush_poll();
  });
}

// Answers the pending GET with every queued packet.
void Session::flush_poll() {
  if (!pending_get_ || queue_.empty()) return;
  std::string body;
  body.reserve(queued_bytes_ + queue_.size() * 2);
  for (const Frame& f : queue_) {
    if (!body.empty()) body += '\x1e';
    if (f.binary) {
      body += 'b';
      base64_encode_append(body, f.payload());
    } else {
      body += f.payload();
    }
  }
  queue_.clear();
  budget_.release(Budget::Side::out, queued_bytes_);
  auto respond = std::move(pending_get_);
  pending_get_ = nullptr;
  respond(200, std::move(body));
  if (closing_) forget();
}

void Session::poll_get(PollResponder respond) {
  if (lingering_) {
    // The GET the client had sent before its close packet: answered as if
    // it had been pending when the close came (Node: a noop).
    respond(200, std::string(loop_.noop.payload()));
    forget();
    return;
  }
  if (pending_get_) {
    // Overlapping GETs: refuse the newcomer and close the session; the
    // pending GET is released with a close packet.
    respond(400, error_body(HttpError::bad_request));
    close(CloseReason::transport_error);
    return;
  }
  if (upgrading() && queue_.empty()) {
    // The client is about to switch; release it at once.
    respond(200, std::string(loop_.noop.payload()));
    return;
  }
  pending_get_ = std::move(respond);
  if (!queue_.empty()) flush_poll();
}

void Session::poll_aborted() {
  if (!pending_get_) return;
  pending_get_ = nullptr;
  if (!closed_) close(CloseReason::transport_close);
}

int Session::poll_post(std::string_view body) {
  std::vector<Packet> packets;
  DecodeError err = decode_payload(body, packets);
  if (err != DecodeError::none) {
    spdlog::debug("session {}: bad polling payload: {}", sid_, to_string(err));
    close(CloseReason::parse_error);
    return 400;
  }
  auto self = shared_from_this();  // a handler may close the session
  for (auto& p : packets) {
    if (closed_) break;
    on_packet(std::move(p));
  }
  return 200;
}

void Session::on_packet(Packet&& p) {
  switch (p.type) {
    case PacketType::pong:
      if (awaiting_pong_) {
        awaiting_pong_ = false;
        schedule_ping();
      }
      break;
    case PacketType::message:
      if (handler_) handler_->on_message(p.data, p.binary);
      break;
    case PacketType::close:
      shutdown(CloseReason::transport_close, false);
      break;
    case PacketType::noop:
      break;
    case PacketType::ping:     // v4: only the server pings
    case PacketType::open:
    case PacketType::upgrade:  // only valid on a probe
      spdlog::debug("session {}: unexpected packet type {}", sid_, static_cast<int>(p.type));
      close(CloseReason::parse_error);
      break;
  }
}

void Session::attach_websocket(std::shared_ptr<WsLink> link) {
  link_ = std::move(link);
  websocket_ = true;
}

bool Session::begin_upgrade(std::shared_ptr<WsLink> probe) {
  if (closed_ || closing_ || websocket_ || probe_) return false;
  probe_ = std::move(probe);
  upgrade_timer_ = std::make_unique<asio::steady_timer>(loop_.ioc, options().upgrade_timeout);
  upgrade_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || !self->probe_) return;
    spdlog::debug("session {}: upgrade timed out", self->sid_);
    auto probe = std::move(self->probe_);
    self->probe_ = nullptr;
    probe->close();
  });
  return true;
}

void Session::on_ws_message(WsLink* from, std::string_view data, bool binary) {
  Packet p;
  if (binary) {
    p.type = PacketType::message;
    p.binary = true;
    p.data.assign(data);
  } else if (DecodeError err = decode_text_packet(data, p); err != DecodeError::none) {
    spdlog::debug("session {}: bad packet: {}", sid_, to_string(err));
    if (from == probe_.get()) {
      auto probe = std::move(probe_);
      probe_ = nullptr;
      probe->close();
    } else {
      close(CloseReason::parse_error);
    }
    return;
  }
  if (probe_ && from == probe_.get()) {
    if (p.type == PacketType::ping && p.data == "probe") {
      probe_->send(loop_.probe_reply);
      if (pending_get_) {
        auto respond = std::move(pending_get_);
        pending_get_ = nullptr;
        respond(200, std::string(loop_.noop.payload()));
      }
    } else if (p.type == PacketType::upgrade) {
      finish_upgrade();
    } else {
      auto probe = std::move(probe_);
      probe_ = nullptr;
      probe->close();
    }
    return;
  }
  if (link_ && from == link_.get()) on_packet(std::move(p));
}

void Session::finish_upgrade() {
  upgrade_timer_.reset();
  link_ = std::move(probe_);
  probe_ = nullptr;
  websocket_ = true;
  if (pending_get_) {
    auto respond = std::move(pending_get_);
    pending_get_ = nullptr;
    respond(200, std::string(loop_.noop.payload()));
  }
  for (const Frame& f : queue_) {
    if (!link_->send(f)) break;  // over budget: the link is closing
  }
  queue_.clear();
  budget_.release(Budget::Side::out, queued_bytes_);
}

void Session::on_ws_closed(WsLink* from, CloseReason reason) {
  if (probe_ && from == probe_.get()) {
    probe_ = nullptr;
    upgrade_timer_.reset();
    return;
  }
  if (link_ && from == link_.get()) {
    link_ = nullptr;
    shutdown(reason, false);
  }
}

void Session::close(CloseReason reason) { shutdown(reason, true); }

// From inside send(): a broadcast may be iterating over the recipients, so
// the close (which leaves rooms) runs after it.
void Session::close_later(CloseReason reason) {
  if (closing_ || close_posted_) return;
  close_posted_ = true;
  asio::post(loop_.ioc, [self = shared_from_this(), reason] { self->close(reason); });
}

void Session::shutdown(CloseReason reason, bool send_close_packet) {
  if (closing_ || closed_) {
    if (lingering_) forget();  // closed again (server shutdown, ...): nothing to wait for
    return;
  }
  closing_ = true;
  auto self = shared_from_this();
  ++heartbeat_gen_;
  upgrade_timer_.reset();
  if (handler_) handler_->on_close(reason);  // may queue final packets
  closed_ = true;
  if (probe_) {
    probe_->close();
    probe_ = nullptr;
  }
  if (websocket_) {
    if (link_) {
      link_->close();  // flushes, then sends a close frame
      link_ = nullptr;
    }
    forget();
    return;
  }
  // Polling: the close packet (or a noop for a client-initiated close) goes
  // out on the pending GET. Without one the session is dropped at once and
  // later requests for it get 400, as with Node.
  if (pending_get_) {
    if (send_close_packet) {
      queue_.push_back(loop_.close);
    } else if (queue_.empty()) {
      queue_.push_back(loop_.noop);
    }
    flush_poll();  // calls forget()
    return;
  }
  if (!send_close_packet) {
    linger();
    return;
  }
  forget();
}

// The client closed the session with a close packet (in a POST) while no
// GET was pending. Its last GET may still be on the way: sent before the
// POST but on another connection, it can reach this loop later (the two
// connections may have been accepted by different loops, and a request on
// a loop that does not own the session is moved here). Node answers a GET
// that is pending at the close with a noop; so that the order in which two
// connections reach their loops does not decide between that noop and
// "unknown sid", the session stays registered, closed, for the next GET
// (answered "6", then the session is forgotten) or until kCloseLinger
// passes. Nothing else reaches it: the transport rules treat any other
// request for a closed session as one for an unknown sid.
void Session::linger() {
  lingering_ = true;
  queue_.clear();
  budget_.release(Budget::Side::out, queued_bytes_);
  if (!started_) return forget();
  loop_.heartbeat.schedule(shared_from_this(), ++heartbeat_gen_,
                           HeartbeatWheel::Clock::now() + kCloseLinger, heartbeat_slack(kCloseLinger));
}

// Drops the session from its loop: later requests for the sid get 400.
void Session::forget() {
  lingering_ = false;
  ++heartbeat_gen_;
  pending_get_ = nullptr;
  queue_.clear();
  budget_.release(Budget::Side::out, queued_bytes_);
  if (started_) {
    started_ = false;
    auto it = loop_.sessions.find(sid_);
    if (it != loop_.sessions.end() && it->second.get() == this) {
      // Destroying the handler may release the last reference to us: defer.
      auto keep = std::move(it->second);
      loop_.sessions.erase(it);
      asio::post(loop_.ioc, [keep = std::move(keep)] {});
    }
  }
}

}  // namespace rollcall::engineio
