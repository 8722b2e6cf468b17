#include "redis/subscriber.hpp"

#include "common/backoff.hpp"
#include "redis/connection.hpp"
#include "redis/reply_parser.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <set>

namespace rollcall::redis {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Type = RedisValue::Type;

namespace {

// One TCP connection (connection.hpp) and when it last had input.
struct SubConn : detail::ConnBase {
  using ConnBase::ConnBase;
  Clock::time_point rx_at;  // last input (heartbeat)
};

struct Message {
  std::string channel;
  std::string pattern;
  std::string payload;
  bool from_pattern = false;
};

using NameSet = std::set<std::string, std::less<>>;

}  // namespace

class Subscriber::Impl : public std::enable_shared_from_this<Impl>,
                         private detail::ConnectionIo<Subscriber::Impl, SubConn> {
  friend class detail::ConnectionIo<Subscriber::Impl, SubConn>;

 public:
  Impl(asio::any_io_executor ex, RedisConfig cfg)
      : ex_(std::move(ex)),
        cfg_(std::move(cfg)),
        timer_(ex_),
        backoff_(cfg_.reconnect_backoff_initial, cfg_.reconnect_backoff_max) {}

  ~Impl() { close(); }

  void on_message(MessageHandler h) { message_handler_ = std::move(h); }
  void on_state(StateHandler h) { state_handler_ = std::move(h); }

  void start() {
    if (state_ == State::idle) connect();
  }

  void subscribe(std::vector<std::string> names, Callback cb, bool pattern) {
    if (state_ == State::closed) return complete(std::move(cb), RedisError::closed);
    std::string encoded;
    if (names.empty() || !encode(pattern ? "PSUBSCRIBE" : "SUBSCRIBE", names, encoded)) {
      return complete(std::move(cb), RedisError::invalid_command);
    }
    const bool live = state_ == State::syncing || state_ == State::ready;
    if (live && expected_.size() >= cfg_.max_pending) return complete(std::move(cb), RedisError::queue_full);
    NameSet& set = pattern ? patterns_ : channels_;
    set.insert(names.begin(), names.end());
    switch (state_) {
      case State::idle:
        connect();
        [[fallthrough]];
      case State::connecting:  // the new connection subscribes the whole set
        if (cb) sync_waiters_.push_back(std::move(cb));
        return;
      case State::backoff:
        return complete(std::move(cb), RedisError::unavailable);
      case State::syncing:
      case State::ready: {
        const std::size_t n = names.size();
        send_encoded(encoded, Expect{pattern ? Kind::psubscribe : Kind::subscribe, n, std::move(cb), std::move(names)});
        return;
      }
      case State::closed:
        return;
    }
  }

  void unsubscribe(std::vector<std::string> names, Callback cb, bool pattern) {
    if (state_ == State::closed) return complete(std::move(cb), RedisError::closed);
    NameSet& set = pattern ? patterns_ : channels_;
    if (names.empty()) names.assign(set.begin(), set.end());
    if (names.empty()) return complete(std::move(cb), {});
    std::string encoded;
    if (!encode(pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", names, encoded)) {
      return complete(std::move(cb), RedisError::invalid_command);
    }
    const bool live = state_ == State::syncing || state_ == State::ready;
    if (live && expected_.size() >= cfg_.max_pending) return complete(std::move(cb), RedisError::queue_full);
    for (const auto& n : names) set.erase(n);
    if (!live) return complete(std::move(cb), {});  // the next connection will not subscribe them
    const std::size_t n = names.size();
    send_encoded(encoded, Expect{pattern ? Kind::punsubscribe : Kind::unsubscribe, n, std::move(cb), {}});
  }

  void close() {
    if (state_ == State::closed) return;
    closing_ = true;
    drop(RedisError::closed);
  }

  bool connected() const noexcept { return state_ == State::ready; }
  std::size_t channels() const noexcept { return channels_.size(); }
  std::size_t patterns() const noexcept { return patterns_.size(); }
  long long client_id() const noexcept { return client_id_; }
  std::error_code last_error() const noexcept { return last_error_; }
  std::uint64_t connect_attempts() const noexcept { return connect_attempts_; }

 private:
  enum class State {
    idle,        // not started
    connecting,  // resolve + TCP connect
    syncing,     // AUTH / SELECT / CLIENT ID / restoring the set / PING barrier sent
    ready,       // the barrier PING answered: every subscription of the set is active
    backoff,     // waiting before the next attempt
    closed,
  };
  enum class Kind { auth, select, client_id, subscribe, psubscribe, unsubscribe, punsubscribe, ping, barrier };
  // A reply (or `remaining` confirmations, one per name) the connection waits for.
  struct Expect {
    explicit Expect(Kind k, std::size_t n = 1, Callback c = {}, std::vector<std::string> ns = {})
        : kind(k), remaining(n), cb(std::move(c)), names(std::move(ns)) {}
    Kind kind;
    std::size_t remaining;
    Callback cb;
    std::vector<std::string> names;  // user (p)subscribe: what leaves the set on refusal
    bool restore = false;            // part of restoring the set on a new connection
    Clock::time_point deadline{};
  };
  using Conn = SubConn;

  static bool encode(const char* command, const std::vector<std::string>& names, std::string& out) {
    std::vector<std::string> argv;
    argv.reserve(names.size() + 1);
    argv.emplace_back(command);
    argv.insert(argv.end(), names.begin(), names.end());
    return encode_command(argv, out);
  }

  static const char* confirmation(Kind k) {
    switch (k) {
      case Kind::subscribe: return "subscribe";
      case Kind::psubscribe: return "psubscribe";
      case Kind::unsubscribe: return "unsubscribe";
      case Kind::punsubscribe: return "punsubscribe";
      default: return "";
    }
  }

  // Every callback goes through here or post_state(): messages parsed before
  // it are posted first, so that handlers see one order.
  void complete(Callback cb, std::error_code ec, RedisValue value = {}) {
    if (!cb) return;
    flush();
    asio::post(ex_, [cb = std::move(cb), ec, value = std::move(value)]() mutable {
      cb(ec, std::move(value));
    });
  }

  void post_state(bool up) {
    if (up == reported_up_) return;
    reported_up_ = up;
    flush();
    asio::post(ex_, [w = weak_from_this(), up] {
      auto self = w.lock();
      if (!self || self->state_ == State::closed || !self->state_handler_) return;
      auto handler = self->state_handler_;  // may replace itself
      handler(up);
    });
  }

  void flush() {
    if (batch_.empty()) return;
    asio::post(ex_, [w = weak_from_this(), batch = std::move(batch_)] {
      auto self = w.lock();
      if (!self) return;
      auto handler = self->message_handler_;
      if (!handler) return;
      for (const Message& m : batch) {
        if (self->state_ == State::closed) return;
        const bool wanted = m.from_pattern ? self->patterns_.contains(m.pattern)
                                           : self->channels_.contains(m.channel);
        if (wanted) handler(m.channel, m.pattern, m.payload);
      }
    });
    batch_.clear();
  }

  void send_encoded(std::string_view encoded, Expect e) {
    queued_ += encoded;
    e.deadline = Clock::now() + cfg_.command_timeout;
    expected_.push_back(std::move(e));
    write_some();
    arm_timer();
  }

  void send(const std::vector<std::string>& argv, Expect e) {
    std::string encoded;
    if (encode_command(argv, encoded)) send_encoded(encoded, std::move(e));
  }

  void connect() {
    state_ = State::connecting;
    ++connect_attempts_;
    auto c = conn_ = std::make_shared<Conn>(ex_, cfg_.max_reply_bytes);
    connect_deadline_ = Clock::now() + cfg_.connect_timeout;
    open(c, cfg_.host, cfg_.port);
    arm_timer();
  }

  void on_connected() {
    auto c = conn_;
    c->rx_at = Clock::now();
    state_ = State::syncing;
    if (!cfg_.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!cfg_.username.empty()) auth.push_back(cfg_.username);
      auth.push_back(cfg_.password);
      send(auth, Expect{Kind::auth});
    }
    if (cfg_.db != 0) send({"SELECT", std::to_string(cfg_.db)}, Expect{Kind::select});
    send({"CLIENT", "ID"}, Expect{Kind::client_id});
    restore(channels_, "SUBSCRIBE", Kind::subscribe);
    restore(patterns_, "PSUBSCRIBE", Kind::psubscribe);
    send({"PING"}, Expect{Kind::barrier});
    read_some(c);
  }

  void restore(const NameSet& set, const char* command, Kind kind) {
    if (set.empty()) return;
    std::vector<std::string> argv{command};
    argv.insert(argv.end(), set.begin(), set.end());
    Expect e{kind, set.size()};
    e.restore = true;
    send(argv, std::move(e));
  }

  void on_data(const std::shared_ptr<Conn>& c, std::string_view bytes) {
    c->rx_at = Clock::now();
    std::error_code ec = c->parser.feed(bytes);
    RedisValue value;
    RedisValue failure;  // the error reply behind `ec`, if any
    while (!ec && c->parser.next(value, ec)) {
      ec = on_reply(std::move(value), failure);
      value = {};
    }
    flush();
    if (ec) return drop(ec, failure);
    read_some(c);
    arm_timer();  // an answered reply may bring the next due time forward
  }

  // One reply or push. Returns the error that must drop the connection.
  std::error_code on_reply(RedisValue v, RedisValue& failure) {
    if (v.type == Type::array && v.elements.size() >= 3 && v.elements[0].type == Type::string) {
      auto& el = v.elements;
      if (el[0].str == "message" && el.size() == 3) {
        batch_.push_back({std::move(el[1].str), {}, std::move(el[2].str), false});
        return {};
      }
      if (el[0].str == "pmessage" && el.size() == 4) {
        batch_.push_back({std::move(el[2].str), std::move(el[1].str), std::move(el[3].str), true});
        return {};
      }
    }
    if (expected_.empty()) return RedisError::unexpected_reply;
    Expect& e = expected_.front();
    if (v.type == Type::error) {
      switch (e.kind) {
        case Kind::auth:
          failure = std::move(v);
          return RedisError::auth_failed;
        case Kind::select:
          failure = std::move(v);
          return RedisError::select_failed;
        case Kind::client_id:  // not known to this server: no id, no harm
          client_id_ = 0;
          expected_.pop_front();
          return {};
        case Kind::subscribe:
        case Kind::psubscribe:
          if (e.restore) {
            failure = std::move(v);
            return RedisError::resubscribe_failed;
          }
          for (const auto& n : e.names) (e.kind == Kind::psubscribe ? patterns_ : channels_).erase(n);
          finish(std::move(v));
          return {};
        case Kind::unsubscribe:
        case Kind::punsubscribe:
          finish(std::move(v));
          return {};
        case Kind::ping:
        case Kind::barrier:
          failure = std::move(v);
          return RedisError::unexpected_reply;
      }
    }
    switch (e.kind) {
      case Kind::auth:
      case Kind::select:
        if (v.type != Type::status) return RedisError::unexpected_reply;
        expected_.pop_front();
        return {};
      case Kind::client_id:
        if (v.type != Type::integer) return RedisError::unexpected_reply;
        client_id_ = v.integer;
        expected_.pop_front();
        return {};
      case Kind::subscribe:
      case Kind::psubscribe:
      case Kind::unsubscribe:
      case Kind::punsubscribe: {
        const auto& el = v.elements;
        if (v.type != Type::array || el.size() != 3 || el[0].type != Type::string ||
            el[0].str != confirmation(e.kind) || el[2].type != Type::integer) {
          return RedisError::unexpected_reply;
        }
        if (--e.remaining == 0) finish(std::move(v));
        return {};
      }
      case Kind::ping:
      case Kind::barrier: {
        const bool pong = (v.type == Type::status && v.str == "PONG") ||
                          (v.type == Type::array && !v.elements.empty() &&
                           v.elements[0].type == Type::string && v.elements[0].str == "pong");
        if (!pong) return RedisError::unexpected_reply;
        const Kind kind = e.kind;
        expected_.pop_front();
        if (kind == Kind::ping) ping_outstanding_ = false;
        if (kind == Kind::barrier) become_ready();
        return {};
      }
    }
    return RedisError::unexpected_reply;
  }

  // The front expectation is met: its callback gets `value`.
  void finish(RedisValue value) {
    Callback cb = std::move(expected_.front().cb);
    expected_.pop_front();
    complete(std::move(cb), {}, std::move(value));
  }

  void become_ready() {
    state_ = State::ready;
    failures_ = 0;
    post_state(true);
    auto waiters = std::move(sync_waiters_);
    sync_waiters_.clear();
    for (auto& cb : waiters) complete(std::move(cb), {});
    arm_timer();  // heartbeat
  }

  // Drops the connection (if any), fails whatever waits on it and, unless
  // closing, schedules the next attempt.
  void drop(std::error_code ec, const RedisValue& value = {}) {
    const bool was_ready = state_ == State::ready;
    if (conn_) {
      boost::system::error_code ignored;
      conn_->resolver.cancel();
      conn_->socket.close(ignored);
      conn_.reset();
    }
    if (ec != RedisError::closed) last_error_ = ec;
    queued_.clear();
    client_id_ = 0;
    ping_outstanding_ = false;
    flush();  // what arrived before the drop goes first
    auto expected = std::move(expected_);
    expected_.clear();
    for (auto& e : expected) complete(std::move(e.cb), ec, value);
    auto waiters = std::move(sync_waiters_);
    sync_waiters_.clear();
    for (auto& cb : waiters) complete(std::move(cb), ec, value);
    post_state(false);
    if (closing_) {
      state_ = State::closed;
      ++timer_gen_;
      timer_armed_ = false;
      timer_.cancel();
      return;
    }
    if (was_ready) {
      failures_ = 0;
    } else {
      ++failures_;
    }
    const auto delay = backoff_.delay(failures_);
    if (delay.count() == 0) return connect();
    state_ = State::backoff;
    retry_at_ = Clock::now() + delay;
    arm_timer();
  }

  std::optional<Clock::time_point> next_due() const {
    std::optional<Clock::time_point> due;
    const auto consider = [&](Clock::time_point t) {
      if (!due || t < *due) due = t;
    };
    if (state_ == State::backoff) consider(retry_at_);
    if (state_ == State::connecting) consider(connect_deadline_);
    if (state_ == State::ready && !ping_outstanding_ && conn_ && cfg_.ping_interval.count() > 0) {
      consider(conn_->rx_at + cfg_.ping_interval);
    }
    if (!expected_.empty()) consider(expected_.front().deadline);  // FIFO, one timeout: the earliest
    return due;
  }

  // Arms the one timer for the earliest due time; a later call with an
  // earlier time replaces the wait (the generation tells stale completions).
  void arm_timer() {
    const auto due = next_due();
    if (!due || (timer_armed_ && timer_due_ <= *due)) return;
    timer_armed_ = true;
    timer_due_ = *due;
    timer_.expires_at(*due);
    timer_.async_wait([w = weak_from_this(), gen = ++timer_gen_](const boost::system::error_code&) {
      auto self = w.lock();
      if (!self || gen != self->timer_gen_) return;
      self->timer_armed_ = false;
      self->on_timer();
    });
  }

  void on_timer() {
    const auto now = Clock::now();
    if (state_ == State::closed) return;
    if (state_ == State::backoff && now >= retry_at_) return connect();
    if (state_ == State::connecting && now >= connect_deadline_) return drop(RedisError::connect_timeout);
    if (!expected_.empty() && now >= expected_.front().deadline) return drop(RedisError::timeout);
    if (state_ == State::ready && !ping_outstanding_ && conn_ && cfg_.ping_interval.count() > 0 &&
        now >= conn_->rx_at + cfg_.ping_interval) {
      ping_outstanding_ = true;
      send({"PING"}, Expect{Kind::ping});
      return;  // send() armed the timer
    }
    arm_timer();
  }

  asio::any_io_executor ex_;
  RedisConfig cfg_;
  State state_ = State::idle;
  bool closing_ = false;
  std::shared_ptr<Conn> conn_;
  std::string queued_;            // encoded commands not yet handed to a write
  std::deque<Expect> expected_;   // oldest first
  std::vector<Callback> sync_waiters_;  // (p)subscribe() while connecting: done when ready
  std::vector<Message> batch_;    // parsed, not yet posted
  NameSet channels_;
  NameSet patterns_;
  MessageHandler message_handler_;
  StateHandler state_handler_;
  bool reported_up_ = false;      // what on_state was last told
  bool ping_outstanding_ = false;
  long long client_id_ = 0;
  std::error_code last_error_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  Clock::time_point timer_due_;
  std::uint64_t timer_gen_ = 0;
  Clock::time_point connect_deadline_;
  Backoff backoff_;
  unsigned failures_ = 0;         // failed attempts in a row
  Clock::time_point retry_at_;
  std::uint64_t connect_attempts_ = 0;
};

Subscriber::Subscriber(asio::any_io_executor ex, RedisConfig cfg)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(cfg))) {}

Subscriber::~Subscriber() { impl_->close(); }

std::shared_ptr<Subscriber> Subscriber::create(asio::any_io_executor ex, RedisConfig cfg) {
  return std::shared_ptr<Subscriber>(new Subscriber(std::move(ex), std::move(cfg)));
}

void Subscriber::on_message(MessageHandler handler) { impl_->on_message(std::move(handler)); }
void Subscriber::on_state(StateHandler handler) { impl_->on_state(std::move(handler)); }
void Subscriber::start() { impl_->start(); }
void Subscriber::subscribe(std::vector<std::string> channels, Callback cb) {
  impl_->subscribe(std::move(channels), std::move(cb), false);
}
void Subscriber::psubscribe(std::vector<std::string> patterns, Callback cb) {
  impl_->subscribe(std::move(patterns), std::move(cb), true);
}
void Subscriber::unsubscribe(std::vector<std::string> channels, Callback cb) {
  impl_->unsubscribe(std::move(channels), std::move(cb), false);
}
void Subscriber::punsubscribe(std::vector<std::string> patterns, Callback cb) {
  impl_->unsubscribe(std::move(patterns), std::move(cb), true);
}
void Subscriber::close() { impl_->close(); }
bool Subscriber::connected() const noexcept { return impl_->connected(); }
std::size_t Subscriber::channels() const noexcept { return impl_->channels(); }
std::size_t Subscriber::patterns() const noexcept { return impl_->patterns(); }
long long Subscriber::client_id() const noexcept { return impl_->client_id(); }
std::error_code Subscriber::last_error() const noexcept { return impl_->last_error(); }
std::uint64_t Subscriber::connect_attempts() const noexcept { return impl_->connect_attempts(); }

}  // namespace rollcall::redis
