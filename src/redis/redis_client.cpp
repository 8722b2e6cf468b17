#include "redis/redis_client.hpp"

#include "common/backoff.hpp"
#include "redis/connection.hpp"
#include "redis/reply_parser.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <deque>

namespace rollcall::redis {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// Commands after which replies no longer pair one-to-one with commands
// (pub/sub, MONITOR, CLIENT REPLY OFF|SKIP), or that switch to RESP3 (HELLO),
// which hiredis 0.14 cannot parse.
bool is_unsupported(const std::vector<std::string>& argv) {
  const std::string name = upper(argv.front());
  if (name == "CLIENT") return argv.size() > 1 && upper(argv[1]) == "REPLY";
  return name == "SUBSCRIBE" || name == "PSUBSCRIBE" || name == "SSUBSCRIBE" ||
         name == "UNSUBSCRIBE" || name == "PUNSUBSCRIBE" || name == "SUNSUBSCRIBE" ||
         name == "MONITOR" || name == "HELLO";
}

}  // namespace

namespace {
// One TCP connection (connection.hpp); `healthy` once a command got its
// reply: the server works.
struct ClientConn : detail::ConnBase {
  using ConnBase::ConnBase;
  bool healthy = false;
};
}  // namespace

class RedisClient::Impl : public std::enable_shared_from_this<Impl>,
                          private detail::ConnectionIo<RedisClient::Impl, ClientConn> {
  friend class detail::ConnectionIo<RedisClient::Impl, ClientConn>;

 public:
  Impl(asio::any_io_executor ex, RedisConfig cfg)
      : ex_(std::move(ex)),
        cfg_(std::move(cfg)),
        timer_(ex_),
        backoff_(cfg_.reconnect_backoff_initial, cfg_.reconnect_backoff_max) {}

  ~Impl() { drop(RedisError::closed); }

  void command(std::vector<std::string> argv, Callback cb) {
    if (closed_) return complete(std::move(cb), RedisError::closed);
    if (argv.empty()) return complete(std::move(cb), RedisError::invalid_command);
    if (is_unsupported(argv)) return complete(std::move(cb), RedisError::unsupported_command);
    if (pending_.size() >= cfg_.max_pending) return complete(std::move(cb), RedisError::queue_full);
    std::string encoded;
    if (!encode_command(argv, encoded)) return complete(std::move(cb), RedisError::invalid_command);
    if (!conn_) {
      // Failed attempts hold the next one back: fail fast instead of
      // queueing behind a connection that is not being made.
      if (failures_ > 0 && Clock::now() < retry_at_) return complete(std::move(cb), RedisError::unavailable);
      connect();  // queues AUTH / SELECT first
    }
    queued_ += encoded;
    pending_.push_back({std::move(cb), Kind::user, Clock::now() + cfg_.command_timeout});
    arm_timer();
    write_some();
  }

  void close() {
    closed_ = true;
    drop(RedisError::closed);
  }

  bool connected() const noexcept { return conn_ && conn_->connected; }
  std::size_t pending() const noexcept { return pending_.size(); }
  std::uint64_t connect_attempts() const noexcept { return connect_attempts_; }

 private:
  enum class Kind { user, auth, select };
  struct Pending {
    Callback cb;  // empty for AUTH / SELECT
    Kind kind;
    Clock::time_point deadline;
  };
  using Conn = ClientConn;

  void complete(Callback cb, std::error_code ec, RedisValue value = {}) {
    asio::post(ex_, [cb = std::move(cb), ec, value = std::move(value)]() mutable {
      cb(ec, std::move(value));
    });
  }

  void connect() {
    auto c = conn_ = std::make_shared<Conn>(ex_, cfg_.max_reply_bytes);
    ++connect_attempts_;
    connect_deadline_ = Clock::now() + cfg_.connect_timeout;
    const auto deadline = Clock::now() + cfg_.command_timeout;
    if (!cfg_.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!cfg_.username.empty()) auth.push_back(cfg_.username);
      auth.push_back(cfg_.password);
      encode_command(auth, queued_);
      pending_.push_back({{}, Kind::auth, deadline});
    }
    if (cfg_.db != 0) {
      encode_command({"SELECT", std::to_string(cfg_.db)}, queued_);
      pending_.push_back({{}, Kind::select, deadline});
    }
    open(c, cfg_.host, cfg_.port);
  }

  void on_connected() {
    read_some(conn_);
    write_some();
  }

  void on_data(const std::shared_ptr<Conn>& c, std::string_view bytes) {
    std::error_code ec = c->parser.feed(bytes);
    RedisValue value;
    while (!ec && c->parser.next(value, ec)) {
      if (pending_.empty()) return drop(RedisError::unexpected_reply);
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      if (p.kind != Kind::user && value.type == RedisValue::Type::error) {
        return drop(p.kind == Kind::auth ? RedisError::auth_failed : RedisError::select_failed, value);
      }
      if (p.kind == Kind::user && !c->healthy) {
        c->healthy = true;
        failures_ = 0;
      }
      if (p.cb) complete(std::move(p.cb), {}, std::move(value));
      value = {};
    }
    if (ec) return drop(ec);
    read_some(c);
  }

  // The earliest deadline among the pending commands (the front, as they are
  // FIFO with one timeout) and the connect deadline while connecting.
  Clock::time_point next_deadline() const {
    auto d = pending_.front().deadline;
    if (conn_ && !conn_->connected) d = std::min(d, connect_deadline_);
    return d;
  }

  void arm_timer() {
    if (pending_.empty()) return;
    const auto deadline = next_deadline();
    if (timer_armed_ && timer_.expiry() <= deadline) return;
    timer_armed_ = true;
    timer_.expires_at(deadline);  // cancels a later wait, if any
    timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto self = w.lock()) {
        self->timer_armed_ = false;
        self->on_timer();
      }
    });
  }

  void on_timer() {
    if (pending_.empty() || !conn_) return;
    const auto now = Clock::now();
    if (!conn_->connected && now >= connect_deadline_) return drop(RedisError::connect_timeout);
    if (now >= pending_.front().deadline) return drop(RedisError::timeout);
    arm_timer();
  }

  // Drops the connection (if any) and fails every pending command. A
  // connection that ends before any command got its reply is a failed
  // attempt: the first one lets the next command try again at once, from the
  // second in a row on the next attempt waits for the backoff.
  void drop(std::error_code ec, const RedisValue& value = {}) {
    if (conn_) {
      if (!conn_->healthy && ec != RedisError::closed) {
        ++failures_;
        retry_at_ = Clock::now() + backoff_.delay(failures_ - 1);
      }
      boost::system::error_code ignored;
      conn_->resolver.cancel();
      conn_->socket.close(ignored);
      conn_.reset();
    }
    queued_.clear();
    auto failed = std::move(pending_);
    pending_.clear();
    for (auto& p : failed) {
      if (p.cb) complete(std::move(p.cb), ec, value);
    }
  }

  asio::any_io_executor ex_;
  RedisConfig cfg_;
  std::shared_ptr<Conn> conn_;
  std::deque<Pending> pending_;  // sent or queued, oldest first
  std::string queued_;           // encoded commands not yet handed to a write
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool closed_ = false;
  Clock::time_point connect_deadline_;
  Backoff backoff_;
  unsigned failures_ = 0;         // failed connection attempts in a row
  Clock::time_point retry_at_;    // no new attempt before (while failures_ > 0)
  std::uint64_t connect_attempts_ = 0;
};

RedisClient::RedisClient(asio::any_io_executor ex, RedisConfig cfg)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(cfg))) {}

RedisClient::~RedisClient() = default;

std::shared_ptr<RedisClient> RedisClient::create(asio::any_io_executor ex, RedisConfig cfg) {
  return std::shared_ptr<RedisClient>(new RedisClient(std::move(ex), std::move(cfg)));
}

void RedisClient::command(std::vector<std::string> argv, Callback cb) {
  impl_->command(std::move(argv), std::move(cb));
}

void RedisClient::close() { impl_->close(); }
bool RedisClient::connected() const noexcept { return impl_->connected(); }
std::size_t RedisClient::pending() const noexcept { return impl_->pending(); }
std::uint64_t RedisClient::connect_attempts() const noexcept { return impl_->connect_attempts(); }

}  // namespace rollcall::redis
