// Test helpers of src/redis: where the test Redis is, and a scriptable fake
// Redis for what a real one will not do on demand (stay silent, send
// garbage, refuse).
#pragma once

#include "redis/redis_client.hpp"
#include "redis/reply_parser.hpp"
#include "run_until.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rollcall::redis::testing {

// The port of the test Redis (REDIS_PORT, 127.0.0.1). 0 with `error` set when
// the variable is missing or not a port: the caller FAILS, never skips.
inline std::uint16_t redis_port(std::string& error) {
  const char* env = std::getenv("REDIS_PORT");
  if (env == nullptr || *env == '\0') {
    error = "REDIS_PORT not set: start Redis with scripts/services.sh";
    return 0;
  }
  const int port = std::atoi(env);
  if (port <= 0 || port > 65535) {
    error = std::string("REDIS_PORT=") + env + " is not a port number";
    return 0;
  }
  return static_cast<std::uint16_t>(port);
}

// Runs `commands` on the test Redis at 127.0.0.1:`port` (pipelined, on a
// connection of its own) and returns their replies; a reply that did not
// come within 5 s is left nil and the test fails.
inline std::vector<RedisValue> run_commands(std::uint16_t port, std::vector<std::vector<std::string>> commands) {
  boost::asio::io_context ioc;
  RedisConfig cfg;
  cfg.port = port;
  auto c = RedisClient::create(ioc.get_executor(), cfg);
  std::vector<RedisValue> out(commands.size());
  std::size_t left = commands.size();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    c->command(std::move(commands[i]), [&out, &left, i](std::error_code, RedisValue v) {
      out[i] = std::move(v);
      --left;
    });
  }
  EXPECT_TRUE(rollcall::testing::run_until(ioc, [&] { return left == 0; }, std::chrono::seconds(5)))
      << "Redis did not answer within 5 s";
  c->close();
  return out;
}

// A port on 127.0.0.1 where nothing listens (bound, then closed).
inline std::uint16_t closed_port(boost::asio::io_context& ioc) {
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// A fake Redis on 127.0.0.1 (ephemeral port). It splits what each connection
// sends into commands (RESP arrays, parsed with ReplyParser) and answers each
// with handler(connection index from 0, argv): the bytes to send (empty:
// nothing), or nullopt to close that connection.
class FakeRedis {
 public:
  using Argv = std::vector<std::string>;
  using Handler = std::function<std::optional<std::string>(std::size_t conn, const Argv& argv)>;

  FakeRedis(boost::asio::io_context& ioc, Handler handler)
      : s_(std::make_shared<State>(ioc, std::move(handler))) {
    accept(s_);
  }
  ~FakeRedis() {
    close_all();
    boost::system::error_code ignored;
    s_->acceptor.close(ignored);
  }
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;

  std::uint16_t port() const { return s_->acceptor.local_endpoint().port(); }
  std::size_t accepted() const { return s_->conns.size(); }
  // Every command received, with its connection index, in arrival order.
  const std::vector<std::pair<std::size_t, Argv>>& commands() const { return s_->commands; }
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& [conn, argv] : s_->commands) n += !argv.empty() && argv[0] == name;
    return n;
  }
  // Sends bytes on connection `conn` unasked (pub/sub pushes).
  void push(std::size_t conn, std::string bytes) { write(s_, s_->conns.at(conn), std::move(bytes)); }
  void close_all() {
    boost::system::error_code ignored;
    for (auto& c : s_->conns) c->socket.close(ignored);
  }

 private:
  using tcp = boost::asio::ip::tcp;
  struct Conn {
    Conn(tcp::socket s, std::size_t i) : socket(std::move(s)), index(i) {}
    tcp::socket socket;
    std::size_t index;
    ReplyParser parser{64 * 1024 * 1024};
    std::array<char, 16 * 1024> buf;
    std::string queued;
    std::string out;
    bool writing = false;
  };
  struct State {
    State(boost::asio::io_context& ioc, Handler h)
        : acceptor(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)), handler(std::move(h)) {}
    tcp::acceptor acceptor;
    Handler handler;
    std::vector<std::shared_ptr<Conn>> conns;
    std::vector<std::pair<std::size_t, Argv>> commands;
  };

  static void accept(const std::shared_ptr<State>& s) {
    s->acceptor.async_accept([s](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto c = std::make_shared<Conn>(std::move(socket), s->conns.size());
      s->conns.push_back(c);
      read(s, c);
      accept(s);
    });
  }

  static void read(const std::shared_ptr<State>& s, const std::shared_ptr<Conn>& c) {
    c->socket.async_read_some(boost::asio::buffer(c->buf), [s, c](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      std::error_code perr = c->parser.feed(std::string_view(c->buf.data(), n));
      RedisValue v;
      while (!perr && c->parser.next(v, perr)) {
        Argv argv;
        for (auto& e : v.elements) argv.push_back(std::move(e.str));
        s->commands.emplace_back(c->index, argv);
        auto reply = s->handler(c->index, argv);
        if (!reply) {
          boost::system::error_code ignored;
          c->socket.close(ignored);
          return;
        }
        if (!reply->empty()) write(s, c, std::move(*reply));
        v = {};
      }
      if (perr) return;
      read(s, c);
    });
  }

  static void write(const std::shared_ptr<State>& s, const std::shared_ptr<Conn>& c, std::string bytes) {
    c->queued += bytes;
    if (c->writing || !c->socket.is_open()) return;
    c->out.swap(c->queued);
    c->queued.clear();
    c->writing = true;
    boost::asio::async_write(c->socket, boost::asio::buffer(c->out), [s, c](boost::system::error_code ec, std::size_t) {
      c->writing = false;
      c->out.clear();
      if (ec || c->queued.empty()) return;
      write(s, c, {});
    });
  }

  std::shared_ptr<State> s_;
};

}  // namespace rollcall::redis::testing
