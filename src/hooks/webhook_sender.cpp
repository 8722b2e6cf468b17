#include "hooks/webhook_sender.hpp"
#include "common/clock.hpp"

#include "hooks/signature.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

namespace rollcall::hooks {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// At most 200 printable characters of a response body, for a log line.
std::string snippet(const std::string& body) {
  std::string out;
  for (char c : body) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : ' ';
  }
  return out;
}

}  // namespace

std::string webhook_body(const std::vector<OutboxEvent>& events) {
  json::array list;
  list.reserve(events.size());
  for (const auto& e : events) {
    json::object o;
    o["id"] = e.id;
    o["type"] = e.type;
    o["user"] = e.user;
    o["seq"] = e.seq;
    o["at"] = format_rfc3339_ms(e.at_ms);
    o["connections"] = e.connections;
    list.emplace_back(std::move(o));
  }
  json::object root;
  root["events"] = std::move(list);
  return json::serialize(root);
}

std::shared_ptr<WebhookSender> WebhookSender::create(asio::any_io_executor ex, WebhookConfig cfg,
                                                     Outbox& outbox, std::string& error) {
  auto bad = [&error](std::string what) {
    error = std::move(what);
    return nullptr;
  };
  if (!cfg.url.empty() || cfg.discard) {
    if (cfg.secret.empty()) return bad("secret is required when url is set");
    if (cfg.batch_max == 0) return bad("batch_max must be at least 1");
    if (cfg.connect_timeout.count() <= 0 || cfg.request_timeout.count() <= 0) {
      return bad("connect_timeout_ms and timeout_ms must be positive");
    }
    if (cfg.backoff_min.count() <= 0 || cfg.backoff_max < cfg.backoff_min) {
      return bad("backoff_min_ms must be positive and backoff_max_ms at least backoff_min_ms");
    }
    if (cfg.max_age.count() <= 0) return bad("max_age_s must be positive");
  }
  auto sender = std::make_shared<WebhookSender>(Private{}, std::move(ex), std::move(cfg), outbox);
  if (sender->cfg_.discard) {
    sender->enabled_ = true;
    return sender;
  }
  if (sender->cfg_.url.empty()) return sender;

  std::string url_error;
  auto url = parse_url(sender->cfg_.url, url_error);
  if (!url) return bad(url_error);
  sender->url_ = *url;
  if (sender->url_.tls) {
    std::string tls_error;
    sender->tls_ = make_tls_context(sender->cfg_.ca_file, tls_error);
    if (!sender->tls_) return bad(tls_error);
  }
  sender->enabled_ = true;
  return sender;
}

WebhookSender::WebhookSender(Private, asio::any_io_executor ex, WebhookConfig cfg, Outbox& outbox)
    : ex_(std::move(ex)),
      cfg_(std::move(cfg)),
      outbox_(outbox),
      retry_timer_(ex_),
      rng_(std::random_device{}()) {}

void WebhookSender::notify() {
  if (!enabled_ || stopped_ || kick_posted_) return;
  kick_posted_ = true;
  asio::post(ex_, [self = shared_from_this()] {
    self->kick_posted_ = false;
    self->send_next();
  });
}

void WebhookSender::stop() {
  stopped_ = true;
  retry_timer_.cancel();
  cancel_.emit(asio::cancellation_type::terminal);
}

WebhookSender::Stats WebhookSender::stats() const {
  return Stats{delivered_.load(std::memory_order_relaxed),
               failed_attempts_.load(std::memory_order_relaxed),
               dead_lettered_.load(std::memory_order_relaxed), seconds_.snapshot()};
}

void WebhookSender::send_next() {
  if (!enabled_ || stopped_ || in_flight_ || waiting_) return;
  auto events = outbox_.pending(cfg_.batch_max);
  if (events.empty()) return;

  std::vector<std::int64_t> rowids, created;
  rowids.reserve(events.size());
  created.reserve(events.size());
  for (const auto& e : events) {
    rowids.push_back(e.rowid);
    created.push_back(e.created_ms);
  }
  auto body = webhook_body(events);
  // A fresh timestamp and signature for every attempt: receivers reject old
  // timestamps.
  const auto timestamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  HttpHeaders headers;
  headers.emplace_back("Content-Type", "application/json");
  headers.emplace_back("User-Agent", "rollcall/0.1");
  headers.emplace_back("X-Rollcall-Timestamp", timestamp);
  headers.emplace_back("X-Rollcall-Signature", sign(cfg_.secret, timestamp, body));

  in_flight_ = true;
  sent_at_ = std::chrono::steady_clock::now();
  if (cfg_.discard) {  // body and signature were built as for a real request
    asio::post(ex_, [self = shared_from_this(), rowids = std::move(rowids),
                     created = std::move(created)]() mutable {
      self->on_response(std::move(rowids), std::move(created), {}, 200, {});
    });
    return;
  }
  http_post(ex_, tls_, url_, std::move(headers), std::move(body),
            Timeouts{cfg_.connect_timeout, cfg_.request_timeout}, cancel_.slot(),
            [self = shared_from_this(), rowids = std::move(rowids), created = std::move(created)](
                std::error_code ec, int status, std::string response) mutable {
              self->on_response(std::move(rowids), std::move(created), ec, status, response);
            });
}

void WebhookSender::on_response(std::vector<std::int64_t> rowids,
                                std::vector<std::int64_t> created_ms, std::error_code ec,
                                int status, const std::string& body) {
  in_flight_ = false;
  seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at_).count());
  if (stopped_) return;  // aborted (or finished while stopping): leave the outbox alone

  if (!ec && status >= 200 && status < 300) {
    outbox_.delivered(rowids);
    delivered_.fetch_add(rowids.size(), std::memory_order_relaxed);
    if (streak_failures_ > 0) {
      spdlog::info("webhook {}: delivering again after {} failed attempt(s)", url_.host_header,
                   streak_failures_);
    }
    streak_failures_ = 0;
    backoff_ = std::chrono::milliseconds{0};
    send_next();
    return;
  }

  const std::string reason =
      ec ? body + ": " + ec.message() : "HTTP " + std::to_string(status);
  outbox_.attempted(rowids);
  failed_attempts_.fetch_add(1, std::memory_order_relaxed);
  if (streak_failures_++ == 0) {
    spdlog::warn("webhook {}: delivery failed ({}{}{}); retrying with backoff, events stay queued",
                 url_.host_header, reason, ec ? "" : ": ", ec ? "" : snippet(body));
  } else {
    spdlog::debug("webhook {}: attempt {} failed ({})", url_.host_header, streak_failures_,
                  reason);
  }

  // Events older than max_age stop blocking the queue.
  const auto limit = unix_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.max_age).count();
  std::vector<std::int64_t> expired;
  for (std::size_t i = 0; i < rowids.size(); ++i) {
    if (created_ms[i] < limit) expired.push_back(rowids[i]);
  }
  if (!expired.empty()) {
    outbox_.dead_letter(expired, reason + "; undelivered for more than max_age (" +
                                     std::to_string(cfg_.max_age.count()) + " s)");
    dead_lettered_.fetch_add(expired.size(), std::memory_order_relaxed);
    spdlog::warn("webhook {}: {} event(s) older than max_age moved to the dead letter ({})",
                 url_.host_header, expired.size(), reason);
  }
  schedule_retry();
}

void WebhookSender::schedule_retry() {
  backoff_ = backoff_.count() == 0 ? cfg_.backoff_min : std::min(backoff_ * 2, cfg_.backoff_max);
  // "Equal jitter": between half the backoff and the full backoff.
  const auto half = backoff_.count() / 2;
  std::uniform_int_distribution<std::int64_t> jitter(0, backoff_.count() - half);
  const auto delay = std::chrono::milliseconds{half + jitter(rng_)};
  waiting_ = true;
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->waiting_ = false;
    if (ec || self->stopped_) return;
    self->send_next();
  });
}

}  // namespace rollcall::hooks

namespace rollcall {

std::string format_rfc3339_ms(std::int64_t ms_since_epoch) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{ms_since_epoch}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

}  // namespace rollcall
