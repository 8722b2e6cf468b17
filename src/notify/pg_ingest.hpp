// Notifications from PostgreSQL: LISTEN on the channel; a NOTIFY with a
// JSON body is published as is (by one node of a cluster: the holder of an
// advisory lock), an empty one (the outbox trigger's) wakes the outbox
// reader, which claims rows of rollcall_outbox (FOR UPDATE SKIP LOCKED),
// publishes them with the idempotency key "outbox:<id>:<created_at>" and
// deletes them in the same transaction. Malformed bodies go to
// rollcall_outbox_dead. Runs on the notifications thread.
#pragma once

#include "common/backoff.hpp"
#include "pg/connection.hpp"

#include <rollcall/notifications.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace rollcall::notify {

class PgIngest {
 public:
  // Publishes a request on the notifications thread and returns what was
  // stored; throws StoreError when the store fails (the row stays).
  using Publish = std::function<Notifications::Published(NotificationRequest)>;

  PgIngest(boost::asio::io_context& ioc, std::string url, std::string channel, Publish publish);
  void start();
  void stop();

  bool connected() const;
  std::string error() const;

  static constexpr std::chrono::seconds kPollEvery{5};  // outbox read even without a wake-up
  static constexpr std::size_t kBatch = 100;

 private:
  void connect();
  void broken(const std::string& why);
  void wait_readable();
  void handle_notifications();
  void drain_outbox();
  void tick();
  void try_lead();
  void set_aside(std::optional<std::int64_t> row, const std::string& payload, const std::string& why,
                 const std::string& created_at);
  void set_state(bool connected, std::string error);

  boost::asio::io_context& ioc_;
  std::string url_;
  std::string described_;
  std::string channel_;
  Publish publish_;
  std::unique_ptr<pg::Connection> conn_;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer timer_;
  Backoff backoff_;
  unsigned failures_ = 0;
  bool leader_ = false;
  bool stopped_ = false;

  mutable std::mutex mutex_;
  bool connected_ = false;
  std::string error_;
};

}  // namespace rollcall::notify
