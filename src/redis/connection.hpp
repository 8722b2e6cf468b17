// The socket side shared by RedisClient and Subscriber: one TCP connection
// (resolve, connect, one write in flight with the next bytes queued behind
// it, reads into a fixed buffer), its errors as std::error_code.
//
// ConnectionIo<Derived, Conn> is a CRTP base. Derived (an Impl held by a
// shared_ptr) provides:
//   std::shared_ptr<Conn> conn_;   the current connection (null: none)
//   std::string queued_;           encoded commands waiting for the socket
//   void drop(std::error_code);    the connection failed
//   void on_connected();           connected: start reading, send what waits
//   void on_data(const std::shared_ptr<Conn>&, std::string_view);
// Handlers hold the Conn (so its buffers outlive the operations) and ignore
// their completion once it is no longer the current one.
#pragma once

#include "redis/error.hpp"
#include "redis/reply_parser.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace rollcall::redis::detail {

inline std::error_code to_std(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::eof) return RedisError::connection_lost;
  if (ec.category() == boost::system::system_category()) {
    return {ec.value(), std::system_category()};  // compares equal to std::errc values
  }
  return ec;
}

struct ConnBase {
  ConnBase(const boost::asio::any_io_executor& ex, std::size_t max_reply_bytes)
      : socket(ex), resolver(ex), parser(max_reply_bytes) {}
  boost::asio::ip::tcp::socket socket;
  boost::asio::ip::tcp::resolver resolver;
  ReplyParser parser;
  bool connected = false;
  bool writing = false;
  std::string out;  // bytes of the write in flight
  std::array<char, 16 * 1024> in;
};

template <class Derived, class Conn>
class ConnectionIo {
 protected:
  Derived& self() { return static_cast<Derived&>(*this); }

  // Resolves host:port and connects `c`; then Derived::on_connected().
  void open(const std::shared_ptr<Conn>& c, const std::string& host, std::uint16_t port) {
    namespace asio = boost::asio;
    using tcp = asio::ip::tcp;
    c->resolver.async_resolve(
        host, std::to_string(port), tcp::resolver::numeric_service,
        [w = self().weak_from_this(), c](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          auto s = w.lock();
          if (!s || s->conn_ != c) return;
          if (ec) return s->drop(to_std(ec));
          asio::async_connect(c->socket, results, [w, c](const boost::system::error_code& ec, const tcp::endpoint&) {
            auto s = w.lock();
            if (!s || s->conn_ != c) return;
            if (ec) return s->drop(to_std(ec));
            boost::system::error_code ignored;
            c->socket.set_option(tcp::no_delay(true), ignored);
            c->socket.set_option(asio::socket_base::keep_alive(true), ignored);
            c->connected = true;
            s->on_connected();
          });
        });
  }

  // Sends what is queued, one write at a time.
  void write_some() {
    auto& d = self();
    if (!d.conn_ || !d.conn_->connected || d.conn_->writing || d.queued_.empty()) return;
    auto c = d.conn_;
    c->out.swap(d.queued_);
    d.queued_.clear();
    c->writing = true;
    boost::asio::async_write(c->socket, boost::asio::buffer(c->out),
                             [w = d.weak_from_this(), c](const boost::system::error_code& ec, std::size_t) {
                               auto s = w.lock();
                               if (!s || s->conn_ != c) return;
                               c->writing = false;
                               c->out.clear();
                               if (ec) return s->drop(to_std(ec));
                               s->write_some();
                             });
  }

  void read_some(const std::shared_ptr<Conn>& c) {
    c->socket.async_read_some(boost::asio::buffer(c->in),
                              [w = self().weak_from_this(), c](const boost::system::error_code& ec, std::size_t n) {
                                auto s = w.lock();
                                if (!s || s->conn_ != c) return;
                                if (ec) return s->drop(to_std(ec));
                                s->on_data(c, std::string_view(c->in.data(), n));
                              });
  }
};

}  // namespace rollcall::redis::detail
