// A server-side WebSocket connection carrying one Engine.IO session.
// The loop's Poller reports readiness (edge-triggered); reads go into the
// loop's shared buffer, and queued frames are gathered into one writev.
#pragma once

#include "common/fifo.hpp"
#include "common/unique_fd.hpp"
#include "engineio/session.hpp"
#include "engineio/frame.hpp"
#include "common/poller.hpp"
#include "ws/frame.hpp"

#include <sys/uio.h>

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall {

struct Loop;

class WsConnection final : public engineio::WsLink,
                           public Poller::Handler,
                           public std::enable_shared_from_this<WsConnection> {
 public:
  // `fd` is a connected, non-blocking TCP socket (TCP_NODELAY comes from the
  // listening socket); the loop's Poller watches it from start(). An empty
  // `fd` makes start() fail the session.
  WsConnection(Loop& loop, UniqueFd fd, std::size_t max_message);
  ~WsConnection() override;

  // Starts reading; `leftover` holds bytes read past the HTTP upgrade request.
  void start(std::shared_ptr<engineio::Session> session, std::string_view leftover);

  bool send(const Frame& f) override;
  void close() override;
  std::size_t queued_bytes() const noexcept override { return queued_bytes_; }
  void read_pending() override {
    if (!finished_) on_readable();
  }

  // ws::Parser handler interface.
  void on_message(ws::Opcode op, std::string&& payload);
  void on_ping(std::string_view payload);
  void on_pong(std::string_view payload);
  void on_close(std::uint16_t code, std::string_view reason);

  // Poller::Handler.
  void on_poll(std::uint32_t events) override;
  void on_flush() override;

 private:
  void feed(std::string_view bytes);
  void on_readable();
  void schedule_write();
  void do_write();
  // Reports what the connection holds to the session's budget; false when
  // over it (the budget logged why).
  bool charge_out();
  bool charge_in();
  // Tears the connection down after the current handler (which may be a
  // broadcast iterating over a room).
  void fail_later(engineio::CloseReason reason);
  void begin_closing();
  void on_close_timer();
  static constexpr std::size_t kMaxIov = 64;  // frames per write
  std::size_t gather(std::array<iovec, kMaxIov>& iov) const;
  void consume(std::size_t n);
  void fail(engineio::CloseReason reason);
  void protocol_close(ws::CloseCode code, engineio::CloseReason reason);
  void finish();
  void close_fd();
  std::size_t unsent_in_kernel() const noexcept;

  Loop& loop_;
  UniqueFd fd_;
  ws::Parser parser_;
  std::shared_ptr<engineio::Session> session_;
  std::shared_ptr<engineio::Budget> budget_;  // the session's (outlives it while we close)
  std::size_t budget_out_ = 0;  // what budget_ was told we hold, each way
  std::size_t budget_in_ = 0;
  Fifo<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t front_offset_ = 0;  // bytes of the first frame already written
  // Armed once closing starts: a close that the peer does not complete in
  // time (it stops reading) ends in a reset, so neither the descriptor nor
  // the kernel's send buffer outlives the deadline.
  std::unique_ptr<boost::asio::steady_timer> close_timer_;
  std::chrono::steady_clock::time_point close_deadline_{};
  bool registered_ = false;    // watched by the loop's Poller
  bool want_write_ = false;    // the kernel's buffer was full: writing resumes on EPOLLOUT
  bool flush_pending_ = false; // frames deferred until the current batch ends
  bool failing_ = false;       // a write failed: the teardown is posted
  bool closing_ = false;       // close frame queued: no more frames accepted
  bool drained_ = false;       // everything written and our side shut down
  bool finished_ = false;      // descriptor closed
};

}  // namespace rollcall
