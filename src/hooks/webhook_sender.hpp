// Delivers user.online / user.offline events from the durable outbox to the
// app's webhook (see docs/webhooks.md): one signed POST in flight at a time,
// in outbox order, batched, retried with capped exponential backoff, events
// older than max_age moved to the dead letter when delivery keeps failing.
#pragma once

#include "hooks/http_client.hpp"
#include "hooks/outbox.hpp"
#include "common/histogram.hpp"

#include <rollcall/presence.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace rollcall::hooks {

// The public webhook options (include/rollcall/presence.hpp) are the sender's
// configuration: url (empty: off), secret (required with a url), timeouts,
// batch size, backoff, max_age, ca_file, and discard (benchmarks).
using WebhookConfig = WebhookOptions;

// "2026-11-30T02:04:18.123Z" (public: include/rollcall/presence.hpp)
using rollcall::format_rfc3339_ms;
// {"events":[{"id","type","user","seq","at","connections"}, ...]}
std::string webhook_body(const std::vector<OutboxEvent>& events);

class WebhookSender : public std::enable_shared_from_this<WebhookSender> {
  struct Private {};

 public:
  struct Stats {
    std::uint64_t delivered = 0;        // events acknowledged with a 2xx
    std::uint64_t failed_attempts = 0;  // requests that failed (non-2xx, timeout, I/O error)
    std::uint64_t dead_lettered = 0;    // events moved to the dead letter
    HistogramSnapshot seconds;          // duration of each request
  };

  // Returns nullptr and sets `error` (e.g. "secret is required when url is
  // set") for a bad configuration (URL, missing secret, CA file, limits). An empty url gives a sender whose notify() does
  // nothing. The outbox must outlive the sender's work: call stop() first.
  static std::shared_ptr<WebhookSender> create(boost::asio::any_io_executor ex, WebhookConfig cfg,
                                               Outbox& outbox, std::string& error);

  WebhookSender(Private, boost::asio::any_io_executor ex, WebhookConfig cfg, Outbox& outbox);
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // New events were stored. Call on the executor's thread (as the outbox).
  // Calls within one handler are coalesced into one look at the outbox.
  void notify();
  // Aborts the request in flight and the retry timer. After it returns (call
  // it on the executor's thread) the sender never touches the outbox again;
  // undelivered events stay there for the next start.
  void stop();
  Stats stats() const;  // safe from any thread
  bool enabled() const noexcept { return enabled_; }

 private:
  void send_next();
  void on_response(std::vector<std::int64_t> rowids, std::vector<std::int64_t> created_ms,
                   std::error_code ec, int status, const std::string& body);
  Histogram<11> seconds_{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  std::chrono::steady_clock::time_point sent_at_{};
  void schedule_retry();

  boost::asio::any_io_executor ex_;
  WebhookConfig cfg_;
  Outbox& outbox_;
  bool enabled_ = false;
  Url url_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::cancellation_signal cancel_;
  std::chrono::milliseconds backoff_{0};  // 0: not in a failure streak
  std::uint64_t streak_failures_ = 0;
  bool kick_posted_ = false;
  bool in_flight_ = false;
  bool waiting_ = false;  // retry timer armed
  bool stopped_ = false;
  std::minstd_rand rng_;
  std::atomic<std::uint64_t> delivered_{0}, failed_attempts_{0}, dead_lettered_{0};
};

}  // namespace rollcall::hooks
