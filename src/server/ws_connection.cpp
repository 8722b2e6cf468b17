#include "server/ws_connection.hpp"

#include "server/loop.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace rollcall {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr std::size_t kMaxFramesPerWrite = 256;
constexpr std::size_t kMaxBytesPerWrite = 1 << 20;
constexpr int kMaxReadsPerWakeup = 4;

// The client went away (closed or reset the TCP connection): Node's ws
// reports both as a close, so the reason is "transport close".
bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}
}  // namespace

WsConnection::WsConnection(Loop& loop, tcp::socket socket, std::size_t max_message)
    : loop_(loop), socket_(std::move(socket)), parser_(max_message) {
  ++loop_.websockets;
}

WsConnection::~WsConnection() { --loop_.websockets; }

void WsConnection::start(std::shared_ptr<engineio::Session> session, std::string_view leftover) {
  session_ = std::move(session);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(tcp::no_delay(true), ec);
  if (!leftover.empty()) feed(leftover);
  arm_read();
}

void WsConnection::arm_read() {
  if (reading_ || finished_) return;
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->reading_ = false;
                       if (ec) {
                         if (ec != asio::error::operation_aborted) self->fail("transport error");
                         return;
                       }
                       self->on_readable();
                     });
}

void WsConnection::on_readable() {
  auto& buf = loop_.read_buffer;
  for (int i = 0; i < kMaxReadsPerWakeup && !finished_; ++i) {
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {
      fail(closed_by_peer(ec) ? "transport close" : "transport error");
      return;
    }
    if (!closing_) feed(std::string_view(buf.data(), n));
    if (n < buf.size()) break;
  }
  arm_read();
}

void WsConnection::feed(std::string_view bytes) {
  auto self = shared_from_this();
  ws::Parser::Error err = parser_.feed(bytes, *this);
  if (err != ws::Parser::Error::none) {
    spdlog::debug("websocket: {}", ws::Parser::to_string(err));
    protocol_close(ws::Parser::close_code_for(err), "transport error");
  }
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
  closing_ = true;
  schedule_write();
  if (session) session->on_ws_closed(this, "transport close");
}

void WsConnection::protocol_close(ws::CloseCode code, const char* reason) {
  if (closing_) return;
  auto session = std::move(session_);
  session_ = nullptr;
  // Drop what is not yet being written; the write in flight keeps its frames.
  while (queue_.size() > in_flight_) {
    queued_bytes_ -= std::min(queue_.back().size(), queued_bytes_);
    queue_.pop_back();
  }
  auto buf = std::make_shared<std::string>(ws::make_close_frame(code));
  queue_.push_back(Frame{std::move(buf), 0, 0, true});
  closing_ = true;
  schedule_write();
  if (session) session->on_ws_closed(this, reason);
}

void WsConnection::send(const Frame& f) {
  if (closing_ || finished_) return;
  queue_.push_back(f);
  queued_bytes_ += f.size();
  schedule_write();
}

void WsConnection::close() {
  if (closing_ || finished_) return;
  closing_ = true;
  session_ = nullptr;
  auto buf = std::make_shared<std::string>(ws::make_close_frame(ws::CloseCode::normal));
  queue_.push_back(Frame{std::move(buf), 0, 0, true});
  schedule_write();
}

// One write in flight at a time. When nothing is in flight, a frame is
// written at once with a non-blocking write (as the kernel-floor server
// does: no asynchronous operation per message); only what the kernel does
// not take goes through an asynchronous write. Frames queued meanwhile are
// gathered into the next write, so a busy connection gets one syscall for
// many frames.
void WsConnection::schedule_write() {
  if (!writing_ && !finished_) do_write();
}

void WsConnection::gather() {
  gather_.clear();
  std::size_t bytes = 0;
  std::size_t offset = front_offset_;
  for (const Frame& f : queue_) {
    if (gather_.size() == kMaxFramesPerWrite || (bytes > 0 && bytes + f.size() > kMaxBytesPerWrite)) {
      break;
    }
    auto v = f.ws_bytes().substr(offset);
    offset = 0;
    gather_.emplace_back(v.data(), v.size());
    bytes += v.size();
  }
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
  if (writing_ || finished_) return;
  if (queue_.empty()) {
    if (closing_) finish();
    return;
  }
  gather();
  boost::system::error_code ec;
  std::size_t n = socket_.write_some(gather_, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  if (ec) {
    // We may be inside a broadcast that is iterating over a room: tear the
    // connection down after it, and write nothing more meanwhile.
    writing_ = true;
    asio::post(loop_.ioc, [self = shared_from_this(), ec] {
      self->fail(closed_by_peer(ec) ? "transport close" : "transport error");
    });
    return;
  }
  consume(n);
  if (queue_.empty()) {
    if (closing_) finish();
    return;
  }
  // The socket buffer is full: wait for it asynchronously.
  gather();
  in_flight_ = gather_.size();
  writing_ = true;
  asio::async_write(socket_, gather_,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t written) {
                      self->writing_ = false;
                      self->in_flight_ = 0;
                      self->consume(written);
                      if (ec) {
                        self->fail(closed_by_peer(ec) ? "transport close" : "transport error");
                        return;
                      }
                      self->do_write();
                    });
}

// Everything is written after a close frame: half-close and give the peer a
// moment to close its side, so unread data does not turn into a reset.
void WsConnection::finish() {
  if (finished_ || linger_) return;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  linger_.emplace(loop_.ioc, std::chrono::seconds(1));
  linger_->async_wait([self = shared_from_this()](boost::system::error_code) {
    if (!self->finished_) {
      self->finished_ = true;
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    }
  });
}

void WsConnection::fail(const char* reason) {
  if (finished_) return;
  finished_ = true;
  if (linger_) linger_->cancel();
  auto session = std::move(session_);
  session_ = nullptr;
  boost::system::error_code ec;
  socket_.close(ec);
  if (!writing_) {
    queue_.clear();
    queued_bytes_ = 0;
  }
  if (session) session->on_ws_closed(this, reason);
}

}  // namespace rollcall
