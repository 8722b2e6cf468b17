// The listening socket. Accepting runs on loop 0: it waits for the socket,
// accepts a batch of connections (accept4, with the peer's address) and
// hands them to the loops round-robin. When the process runs out of
// descriptors it sheds the connections waiting in the backlog (closed
// unanswered, with two spare descriptors freed for the purpose) and
// retries every 100 ms.
#pragma once

#include "common/unique_fd.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rollcall {

struct Loop;

class Acceptor : public std::enable_shared_from_this<Acceptor> {
 public:
  // Takes a new connection on its loop (for loop 0, in the middle of an
  // accept batch). An exception it throws costs that connection only.
  using Handler = std::function<void(Loop& loop, UniqueFd fd, std::string peer)>;

  Acceptor(std::vector<std::unique_ptr<Loop>>& loops, Handler handler);

  // Binds and listens (throws std::system_error when that fails); nothing
  // is accepted before start().
  void bind(const std::string& host, std::uint16_t port);
  void start();
  std::uint16_t port() const noexcept { return port_; }
  // The listening socket's, hence every accepted connection's.
  boost::asio::ip::tcp protocol() const noexcept { return protocol_; }
  // Stops accepting (safe from any thread).
  void stop();

 private:
  void wait_accept();
  void accept_some();
  void out_of_descriptors(int err);
  void reserve_descriptors();
  void hand_over(Loop& loop, UniqueFd fd, std::string peer);

  std::vector<std::unique_ptr<Loop>>& loops_;
  Handler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp protocol_ = boost::asio::ip::tcp::v4();
  boost::asio::steady_timer backoff_;  // accept failed for want of descriptors or memory
  bool accept_starved_ = false;        // ... and has not succeeded since
  std::size_t shed_ = 0;               // connections closed unanswered meanwhile
  // Two descriptors held in reserve for when the process runs out: freed,
  // they let it log and accept-and-close the connections waiting (libuv's
  // trick, so clients fail fast and retry instead of hanging in the
  // backlog), then they are taken again.
  std::array<UniqueFd, 2> spare_;
  std::atomic<std::uint16_t> port_{0};
  std::size_t next_loop_ = 0;
};

}  // namespace rollcall
