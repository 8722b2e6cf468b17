// The listening socket on loop 0: accept batches spread round-robin over the
// loops, and descriptor shedding with backoff when the process runs out.
#include "server/acceptor.hpp"

#include "engineio/loop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <system_error>

namespace rollcall {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr int kAcceptBatch = 64;  // connections accepted per turn of loop 0
constexpr int kShedBatch = 1024;  // connections closed per turn when out of descriptors

// The client's IP address as Asio prints it (IPv4-mapped IPv6 stays as is).
std::string peer_address(const sockaddr_storage& addr, socklen_t len) {
  tcp::endpoint ep;
  if (len > ep.capacity()) return {};
  std::memcpy(ep.data(), &addr, len);
  ep.resize(len);
  return ep.address().to_string();
}

}  // namespace

Acceptor::Acceptor(std::vector<std::unique_ptr<Loop>>& loops, Handler handler)
    : loops_(loops),
      handler_(std::move(handler)),
      acceptor_(loops.front()->ioc),
      backoff_(loops.front()->ioc) {}

void Acceptor::bind(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::system_error(ec, "bad listen address '" + host + "'");
  tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(port));
  // Wake the acceptor only once the client's first bytes (its HTTP request)
  // are there: accepting and reading the request then share one wake-up.
  // Every Engine.IO client speaks first; a connection that sends nothing is
  // still accepted after a few seconds (and then times out as before).
  acceptor_.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_DEFER_ACCEPT>(3), ec);
  if (ec) spdlog::debug("TCP_DEFER_ACCEPT: {}", ec.message());
  // Accepted sockets inherit it: no setsockopt per connection.
  acceptor_.set_option(tcp::no_delay(true), ec);
  if (ec) spdlog::debug("TCP_NODELAY on the listening socket: {}", ec.message());
  acceptor_.non_blocking(true);  // accept4 in a loop until EAGAIN
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  protocol_ = ep.protocol();
}

void Acceptor::start() {
  reserve_descriptors();
  wait_accept();
}

void Acceptor::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->backoff_.cancel();
  });
}

void Acceptor::wait_accept() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->acceptor_.is_open()) self->accept_some();
  });
}

void Acceptor::accept_some() {
  auto self = shared_from_this();
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return wait_accept();
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        out_of_descriptors(err);
        return;
      }
      if (err == EBADF || err == EINVAL || err == ENOTSOCK || err == EFAULT) {
        if (acceptor_.is_open()) spdlog::error("accept failed: {}; not accepting any more", std::strerror(err));
        return;
      }
      continue;  // that connection failed before it was accepted (ECONNABORTED, ...)
    }
    if (accept_starved_) {
      spdlog::warn("accepting connections again ({} closed unanswered meanwhile)", shed_);
      accept_starved_ = false;
      shed_ = 0;
    }
    UniqueFd conn(fd);
    std::string peer = peer_address(addr, len);
    Loop& target = *loops_[next_loop_];
    next_loop_ = (next_loop_ + 1) % loops_.size();
    if (&target == loops_.front().get()) {
      hand_over(target, std::move(conn), std::move(peer));
    } else {
      asio::post(target.ioc, [self, &target, conn = std::move(conn), peer = std::move(peer)]() mutable {
        self->hand_over(target, std::move(conn), std::move(peer));
      });
    }
  }
  // More may be waiting; the listening socket is edge-triggered in Asio's
  // reactor, so carry on after the work queued meanwhile instead of waiting.
  asio::post(acceptor_.get_executor(), [self] {
    if (self->acceptor_.is_open()) self->accept_some();
  });
}

void Acceptor::out_of_descriptors(int err) {
  for (auto& fd : spare_) fd.reset();
  if (!accept_starved_) {  // once per episode, not every 100 ms
    spdlog::warn("accept failed: {}; closing new connections at once, retrying every 100 ms",
                 std::strerror(err));
    accept_starved_ = true;
  }
  if (err == EMFILE || err == ENFILE) {
    for (int i = 0; i < kShedBatch; ++i) {
      int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;  // EAGAIN: the backlog is empty (or still no descriptor)
      ::close(fd);
      ++shed_;
    }
  }
  reserve_descriptors();
  backoff_.expires_after(std::chrono::milliseconds(100));
  backoff_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->acceptor_.is_open()) self->accept_some();
  });
}

void Acceptor::reserve_descriptors() {
  for (auto& fd : spare_) {
    if (!fd) fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
}

void Acceptor::hand_over(Loop& loop, UniqueFd fd, std::string peer) {
  if (loop.stopping) return;  // accepted just before the shutdown: closed unanswered
  // A bug must cost this connection only, not the acceptor (which runs
  // this inline for loop 0).
  try {
    handler_(loop, std::move(fd), std::move(peer));
  } catch (const std::exception& e) {
    spdlog::error("http: new connection dropped: {}", e.what());
  }
}

}  // namespace rollcall
