#include "server/ws_connection.hpp"

#include "engineio/loop.hpp"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace rollcall {

namespace asio = boost::asio;

namespace {
constexpr int kMaxReadsPerWakeup = 4;
// A corked connection writes at once past this many queued bytes: corking
// saves system calls on small frames, and must not hold large ones back
// (nor push a healthy client towards the slow-consumer limit).
constexpr std::size_t kCorkLimit = 64 * 1024;
// A closing connection waits this long for the peer to read what is queued
// and close its side; then it is reset.
constexpr auto kCloseDeadline = std::chrono::seconds(5);
// After our last byte, how long the peer gets to close first (so that its
// unread data does not turn our close into a reset).
constexpr auto kLinger = std::chrono::seconds(1);

// The client went away (closed or reset the TCP connection): Node's ws
// reports both as a close, so the reason is "transport close".
engineio::CloseReason reason_for(int err) {
  return err == ECONNRESET || err == EPIPE ? engineio::CloseReason::transport_close
                                          : engineio::CloseReason::transport_error;
}
}  // namespace

WsConnection::WsConnection(Loop& loop, UniqueFd fd, std::size_t max_message)
    : loop_(loop), fd_(std::move(fd)), parser_(max_message) {
  ++loop_.websockets;
  if (!fd_) finished_ = true;  // start() reports the failure to the session
}

WsConnection::~WsConnection() {
  --loop_.websockets;
  if (budget_) {  // the session may live on (a failed upgrade probe)
    budget_->release(engineio::Budget::Side::out, budget_out_);
    budget_->release(engineio::Budget::Side::in, budget_in_);
  }
}

void WsConnection::start(std::shared_ptr<engineio::Session> session, std::string_view leftover) {
  session_ = std::move(session);
  if (session_) budget_ = session_->shared_budget();
  if (finished_) {
    fail(engineio::CloseReason::transport_error);
    return;
  }
  if (!leftover.empty()) feed(leftover);
  if (finished_) return;
  if (auto ec = loop_.poller.add(fd_.get(), shared_from_this())) {
    spdlog::warn("websocket: cannot watch the socket: {}", ec.message());
    fail(engineio::CloseReason::transport_error);
    return;
  }
  registered_ = true;
  if (!charge_out()) return fail(engineio::CloseReason::transport_error);
  // What was queued before (the 101 response, the open packet) goes out in one write.
  schedule_write();
}

void WsConnection::on_poll(std::uint32_t events) {
  if (finished_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable();
  if (!finished_ && want_write_ && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
    want_write_ = false;
    do_write();
  }
}

// Edge-triggered: read until the kernel has nothing more. A short read
// means the socket is drained (new data raises a new edge), so the common
// case is one read per message. A busy connection yields after a few
// full reads and continues in a posted handler.
void WsConnection::on_readable() {
  auto self = shared_from_this();
  auto& buf = loop_.read_buffer;
  for (int i = 0; !finished_; ++i) {
    if (i == kMaxReadsPerWakeup) {
      asio::post(loop_.ioc, [self] { self->on_readable(); });
      return;
    }
    ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n > 0) {
      loop_.count_in(static_cast<std::size_t>(n));
      if (!closing_) feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (static_cast<std::size_t>(n) < buf.size()) return;
      continue;
    }
    if (n == 0) {
      fail(engineio::CloseReason::transport_close);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    fail(reason_for(errno));
    return;
  }
}

void WsConnection::feed(std::string_view bytes) {
  auto self = shared_from_this();
  ws::Parser::Error err = parser_.feed(bytes, *this);
  if (err != ws::Parser::Error::none) {
    spdlog::debug("websocket: {}", ws::Parser::to_string(err));
    protocol_close(ws::Parser::close_code_for(err), engineio::CloseReason::transport_error);
    return;
  }
  if (!finished_ && !charge_in()) fail(engineio::CloseReason::transport_error);
}

bool WsConnection::charge_out() {
  return !budget_ || budget_->update(engineio::Budget::Side::out, budget_out_, queued_bytes_);
}

bool WsConnection::charge_in() {
  return !budget_ || budget_->update(engineio::Budget::Side::in, budget_in_, parser_.buffered());
}

void WsConnection::on_message(ws::Opcode op, std::string&& payload) {
  if (closing_ || !session_) return;
  auto session = session_;  // the session may drop us while handling
  session->on_ws_message(this, payload, op == ws::Opcode::binary);
}

void WsConnection::on_ping(std::string_view payload) {
  if (closing_) return;
  auto buf = std::make_shared<std::string>(ws::make_frame(ws::Opcode::pong, payload));
  send(Frame{std::move(buf), 0, 0, true});
}

void WsConnection::on_pong(std::string_view) {}

void WsConnection::on_close(std::uint16_t code, std::string_view) {
  if (closing_) return;
  // Echo the close frame, then close; the session sees a transport close.
  std::uint16_t reply = code == 1005 ? 1000 : code;
  auto session = std::move(session_);
  session_ = nullptr;
  auto buf = std::make_shared<std::string>(
      ws::make_close_frame(static_cast<ws::CloseCode>(reply)));
  queue_.push_back(Frame{std::move(buf), 0, 0, true});
  queued_bytes_ += queue_.back().size();
  begin_closing();
  schedule_write();
  if (session) session->on_ws_closed(this, engineio::CloseReason::transport_close);
}

void WsConnection::protocol_close(ws::CloseCode code, engineio::CloseReason reason) {
  if (closing_) return;
  auto session = std::move(session_);
  session_ = nullptr;
  // Drop what is not yet written, except a frame already partly written.
  std::size_t keep = front_offset_ > 0 ? 1 : 0;
  while (queue_.size() > keep) {
    queued_bytes_ -= std::min(queue_.back().size(), queued_bytes_);
    queue_.pop_back();
  }
  auto buf = std::make_shared<std::string>(ws::make_close_frame(code));
  queue_.push_back(Frame{std::move(buf), 0, 0, true});
  queued_bytes_ += queue_.back().size();
  (void)charge_out();  // a close frame is never refused
  begin_closing();
  schedule_write();
  if (session) session->on_ws_closed(this, reason);
}

bool WsConnection::send(const Frame& f) {
  if (closing_ || finished_ || failing_) return false;
  queue_.push_back(f);
  queued_bytes_ += f.size();
  if (!charge_out()) {
    fail_later(engineio::CloseReason::transport_error);
    return false;
  }
  schedule_write();
  return true;
}

void WsConnection::close() {
  if (closing_ || finished_) return;
  session_ = nullptr;
  auto buf = std::make_shared<std::string>(ws::make_close_frame(ws::CloseCode::normal));
  queue_.push_back(Frame{std::move(buf), 0, 0, true});
  queued_bytes_ += queue_.back().size();
  (void)charge_out();
  begin_closing();
  schedule_write();
}

void WsConnection::begin_closing() {
  closing_ = true;
  close_deadline_ = std::chrono::steady_clock::now() + kCloseDeadline;
  close_timer_ = std::make_unique<asio::steady_timer>(loop_.ioc, close_deadline_);
  close_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->on_close_timer();
  });
}

// The linger after our last byte ended, or the close deadline passed.
void WsConnection::on_close_timer() {
  if (finished_) return;
  const bool late = std::chrono::steady_clock::now() >= close_deadline_;
  if (!late && (!drained_ || unsent_in_kernel() > 0)) {
    // The peer is still reading what we sent: give it until the deadline.
    close_timer_->expires_at(close_deadline_);
    close_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->on_close_timer();
    });
    return;
  }
  if (late && (!queue_.empty() || unsent_in_kernel() > 0)) {
    spdlog::debug("websocket: the peer did not complete the close within {} s; resetting",
                  kCloseDeadline.count());
  }
  auto self = shared_from_this();
  finished_ = true;
  close_fd();
}

// Frames are written at once with a non-blocking write (as the
// kernel-floor server does), except while the loop's Poller is corked (it
// is dispatching a batch of ready connections, or running broadcasts posted
// by other loops): then the connection is flushed once when the cork ends,
// so the frames of several broadcasts go out in one write. When the
// kernel's buffer is full, writing resumes on the next EPOLLOUT edge.
void WsConnection::schedule_write() {
  if (finished_ || want_write_ || failing_ || !registered_) return;  // start() writes
  auto& poller = loop_.poller;
  if (poller.corked() && queued_bytes_ < kCorkLimit) {
    if (!flush_pending_) {
      flush_pending_ = true;
      poller.defer_flush(this);
    }
    return;
  }
  do_write();
}

void WsConnection::on_flush() {
  flush_pending_ = false;
  if (!finished_ && !want_write_ && !failing_) do_write();
}

std::size_t WsConnection::gather(std::array<iovec, kMaxIov>& iov) const {
  std::size_t n = 0;
  std::size_t offset = front_offset_;
  for (const Frame& f : queue_) {
    if (n == iov.size()) break;
    auto v = f.ws_bytes().substr(offset);
    offset = 0;
    iov[n].iov_base = const_cast<char*>(v.data());
    iov[n].iov_len = v.size();
    ++n;
  }
  return n;
}

// Drops the first `n` written bytes from the queue.
void WsConnection::consume(std::size_t n) {
  while (n > 0 && !queue_.empty()) {
    std::size_t left = queue_.front().size() - front_offset_;
    if (n < left) {
      front_offset_ += n;
      return;
    }
    n -= left;
    queued_bytes_ -= std::min(queue_.front().size(), queued_bytes_);
    queue_.pop_front();
    front_offset_ = 0;
  }
}

void WsConnection::do_write() {
  std::array<iovec, kMaxIov> iov;
  while (!queue_.empty() && !finished_) {
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = gather(iov);
    ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      loop_.count_out(static_cast<std::size_t>(n));
      consume(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      want_write_ = true;
      return;
    }
    fail_later(reason_for(errno));
    return;
  }
  (void)charge_out();  // shrinking
  if (queue_.empty() && closing_) finish();
}

// We may be inside a broadcast that is iterating over a room: tear the
// connection down after it, and write nothing more meanwhile.
void WsConnection::fail_later(engineio::CloseReason reason) {
  if (failing_ || finished_) return;
  failing_ = true;
  asio::post(loop_.ioc, [self = shared_from_this(), reason] { self->fail(reason); });
}

// Everything is written after a close frame: half-close and give the peer a
// moment to close its side, so unread data does not turn into a reset.
void WsConnection::finish() {
  if (finished_ || drained_) return;
  drained_ = true;
  ::shutdown(fd_.get(), SHUT_WR);
  close_timer_->expires_at(std::min(close_deadline_, std::chrono::steady_clock::now() + kLinger));
  close_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->on_close_timer();
  });
}

// Bytes the kernel has not yet sent to the peer (nor had acknowledged).
std::size_t WsConnection::unsent_in_kernel() const noexcept {
  int n = 0;
  if (!fd_ || ::ioctl(fd_.get(), SIOCOUTQ, &n) != 0 || n < 0) return 0;
  return static_cast<std::size_t>(n);
}

// Stops watching and closes the descriptor. The caller holds a reference:
// the Poller may have held the last other one. When the kernel still holds
// bytes the peer has not taken, the close is a reset (SO_LINGER 0): a
// plain close() would leave them, and a FIN-WAIT-1 socket, for as long as
// the peer stays silent.
void WsConnection::close_fd() {
  if (registered_) {
    registered_ = false;
    loop_.poller.remove(fd_.get());
  }
  if (fd_ && unsent_in_kernel() > 0) {
    linger l{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  fd_.reset();
  if (close_timer_) close_timer_->cancel();
}

void WsConnection::fail(engineio::CloseReason reason) {
  if (finished_) return;
  auto self = shared_from_this();
  finished_ = true;
  close_fd();
  queue_.clear();
  queued_bytes_ = 0;
  front_offset_ = 0;
  (void)charge_out();
  if (budget_) budget_->release(engineio::Budget::Side::in, budget_in_);
  auto session = std::move(session_);
  session_ = nullptr;
  if (session) session->on_ws_closed(this, reason);
}

}  // namespace rollcall
