// A server-side WebSocket connection carrying one Engine.IO session.
// One reader (readiness wait + non-blocking reads into the loop's shared
// buffer) and one writer (queued frames gathered into one write).
#pragma once

#include "common/fifo.hpp"
#include "engineio/session.hpp"
#include "server/frame.hpp"
#include "ws/frame.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall {

struct Loop;

class WsConnection final : public engineio::WsLink,
                           public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(Loop& loop, boost::asio::ip::tcp::socket socket, std::size_t max_message);
  ~WsConnection() override;

  // Starts reading; `leftover` holds bytes read past the HTTP upgrade request.
  void start(std::shared_ptr<engineio::Session> session, std::string_view leftover);

  void send(const Frame& f) override;
  void close() override;
  std::size_t queued_bytes() const noexcept override { return queued_bytes_; }

  // ws::Parser handler interface.
  void on_message(ws::Opcode op, std::string&& payload);
  void on_ping(std::string_view payload);
  void on_pong(std::string_view payload);
  void on_close(std::uint16_t code, std::string_view reason);

 private:
  void feed(std::string_view bytes);
  void arm_read();
  void on_readable();
  void schedule_write();
  void do_write();
  void gather();
  void consume(std::size_t n);
  void fail(const char* reason);
  void protocol_close(ws::CloseCode code, const char* reason);
  void finish();

  Loop& loop_;
  boost::asio::ip::tcp::socket socket_;
  ws::Parser parser_;
  std::shared_ptr<engineio::Session> session_;
  Fifo<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::vector<boost::asio::const_buffer> gather_;
  std::size_t in_flight_ = 0;     // frames handed to the current write
  std::size_t front_offset_ = 0;  // bytes of the first frame already written
  std::optional<boost::asio::steady_timer> linger_;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;   // close frame queued: no more frames accepted
  bool finished_ = false;  // socket closed
};

}  // namespace rollcall
