#include "notify/pg_ingest.hpp"
#include "notify/store.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace rollcall::notify {

namespace asio = boost::asio;

namespace {

// Created at start (idempotent; several nodes starting at once serialise
// on the advisory lock). The channel is the trigger's argument, quoted as
// a literal by libpq.
std::string setup_sql(const std::string& channel_literal) {
  return R"sql(
SELECT pg_advisory_xact_lock(hashtext('rollcall:notify:outbox'));
CREATE TABLE IF NOT EXISTS rollcall_outbox (
  id bigserial PRIMARY KEY,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS rollcall_outbox_dead (
  id bigserial PRIMARY KEY,
  outbox_id bigint,
  payload text NOT NULL,
  error text NOT NULL,
  created_at timestamptz,
  failed_at timestamptz NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION rollcall_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], '');
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS rollcall_outbox_notify ON rollcall_outbox;
CREATE TRIGGER rollcall_outbox_notify AFTER INSERT ON rollcall_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION rollcall_outbox_notify()sql" +
         channel_literal + ");";
}

}  // namespace

PgIngest::PgIngest(asio::io_context& ioc, std::string url, std::string channel, Publish publish)
    : ioc_(ioc),
      url_(std::move(url)),
      described_(redact_url(url_)),
      channel_(std::move(channel)),
      publish_(std::move(publish)),
      socket_(ioc),
      timer_(ioc),
      backoff_(std::chrono::milliseconds(250), std::chrono::milliseconds(10000)) {}

void PgIngest::start() {
  asio::post(ioc_, [this] { connect(); });
}

void PgIngest::stop() {
  stopped_ = true;
  timer_.cancel();
  socket_.cancel();
  if (socket_.is_open()) socket_.release();
  conn_.reset();
  set_state(false, "stopped");
}

bool PgIngest::connected() const {
  std::lock_guard lock(mutex_);
  return connected_;
}

std::string PgIngest::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void PgIngest::set_state(bool connected, std::string error) {
  std::lock_guard lock(mutex_);
  connected_ = connected;
  error_ = std::move(error);
}

void PgIngest::connect() {
  if (stopped_) return;
  std::string error;
  conn_ = pg::Connection::open(url_, error);
  std::string why;
  if (!conn_) {
    why = "cannot connect: " + error;
  } else {
    std::string tx = "BEGIN;" + setup_sql(conn_->quote_literal(channel_)) + "COMMIT;";
    if (auto e = conn_->run(tx); !e.empty()) {
      why = "cannot create rollcall_outbox: " + e;
    } else if (auto e2 = conn_->run("LISTEN " + conn_->quote_identifier(channel_)); !e2.empty()) {
      why = "cannot LISTEN: " + e2;
    }
  }
  if (!why.empty()) {
    conn_.reset();
    set_state(false, why);
    auto delay = backoff_.delay(++failures_);
    spdlog::warn("notifications: PostgreSQL {}: {}; retrying in {} ms", described_, why, delay.count());
    timer_.expires_after(delay);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) connect();
    });
    return;
  }
  if (failures_ > 0) spdlog::info("notifications: PostgreSQL {}: connected again", described_);
  else spdlog::info("notifications: listening on PostgreSQL {} channel '{}'", described_, channel_);
  failures_ = 0;
  leader_ = false;
  set_state(true, "");
  boost::system::error_code ec;
  socket_.assign(conn_->socket(), ec);
  if (ec) return broken("cannot watch the socket: " + ec.message());
  wait_readable();
  // LISTEN is in place: rows inserted while nobody listened are read now.
  tick();
}

void PgIngest::broken(const std::string& why) {
  if (stopped_ || !conn_) return;
  spdlog::warn("notifications: PostgreSQL {}: connection lost: {}", described_, why);
  timer_.cancel();
  socket_.cancel();
  if (socket_.is_open()) socket_.release();  // libpq owns the descriptor
  conn_.reset();
  leader_ = false;
  set_state(false, "connection lost: " + why);
  auto delay = backoff_.delay(++failures_);
  timer_.expires_after(delay);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) connect();
  });
}

void PgIngest::wait_readable() {
  socket_.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec || stopped_ || !conn_) return;
    if (!conn_->consume_input()) return broken(conn_->last_error());
    handle_notifications();
    if (conn_) wait_readable();
  });
}

void PgIngest::handle_notifications() {
  bool wake = false;
  while (conn_) {
    auto n = conn_->next_notification();
    if (!n) break;
    if (n->payload.empty()) {
      wake = true;
      continue;
    }
    // A body sent with NOTIFY reaches every node that listens: the holder
    // of the lock publishes it, the others ignore it.
    if (!leader_) continue;
    std::string error;
    auto request = parse_notification_request(n->payload, error);
    if (!request) {
      set_aside(std::nullopt, n->payload, error, "");
      continue;
    }
    try {
      auto p = publish_(std::move(*request));
      spdlog::debug("notifications: NOTIFY published as {} ({} recipients)", p.id, p.recipients);
    } catch (const StoreError& e) {
      // NOTIFY is fire-and-forget: with the store down it is lost, and said.
      spdlog::error("notifications: a NOTIFY body was lost, the store failed: {}", e.what());
    }
  }
  if (wake) drain_outbox();
}

void PgIngest::try_lead() {
  if (leader_ || !conn_) return;
  auto r = conn_->exec("SELECT pg_try_advisory_lock(hashtext('rollcall:notify:listen:' || $1))", {channel_});
  if (!r.ok()) return broken(r.error());
  leader_ = r.rows() == 1 && r.boolean(0, 0);
  if (leader_) spdlog::info("notifications: this node publishes the NOTIFY bodies of channel '{}'", channel_);
}

void PgIngest::tick() {
  if (stopped_ || !conn_) return;
  try_lead();
  drain_outbox();
  handle_notifications();  // the queries may have read some
  if (!conn_) return;
  timer_.expires_after(kPollEvery);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void PgIngest::set_aside(std::optional<std::int64_t> row, const std::string& payload, const std::string& why,
                         const std::string& created_at) {
  if (row) {
    spdlog::warn("notifications: outbox row {} set aside in rollcall_outbox_dead: {}", *row, why);
  } else {
    spdlog::warn("notifications: a NOTIFY body on '{}' was set aside in rollcall_outbox_dead: {}", channel_, why);
  }
  if (!conn_) return;
  auto r = conn_->exec(
      "INSERT INTO rollcall_outbox_dead (outbox_id, payload, error, created_at) VALUES ($1, $2, $3, $4)",
      {row ? std::optional<std::string>(std::to_string(*row)) : std::nullopt, payload, why,
       created_at.empty() ? std::nullopt : std::optional<std::string>(created_at)});
  if (!r.ok()) spdlog::error("notifications: cannot write rollcall_outbox_dead: {}", r.error());
}

void PgIngest::drain_outbox() {
  while (conn_ && !stopped_) {
    if (auto e = conn_->run("BEGIN"); !e.empty()) return broken(e);
    auto rows = conn_->exec(
        "SELECT id, payload::text, created_at::text, "
        "(extract(epoch FROM created_at) * 1000000)::bigint FROM rollcall_outbox "
        "ORDER BY id LIMIT " + std::to_string(kBatch) + " FOR UPDATE SKIP LOCKED");
    if (!rows.ok()) {
      conn_->run("ROLLBACK");
      if (!conn_->healthy()) return broken(rows.error());
      spdlog::error("notifications: cannot read rollcall_outbox: {}", rows.error());
      return;
    }
    std::string done = "{";
    bool store_failed = false;
    for (int i = 0; i < rows.rows(); ++i) {
      std::int64_t id = rows.int64(i, 0);
      std::string payload(rows.text(i, 1));
      std::string error;
      auto request = parse_notification_request(payload, error);
      if (!request) {
        set_aside(id, payload, error, std::string(rows.text(i, 2)));
      } else {
        request->source = "outbox:" + std::to_string(id) + ":" + std::string(rows.text(i, 3));
        try {
          auto p = publish_(std::move(*request));
          spdlog::debug("notifications: outbox row {} published as {} ({} recipients{})", id, p.id,
                        p.recipients, p.duplicate ? ", stored before" : "");
        } catch (const StoreError& e) {
          spdlog::error("notifications: outbox row {} waits: the store failed: {}", id, e.what());
          store_failed = true;
          break;  // rows stay in order: this one and the rest are retried
        }
      }
      if (done.size() > 1) done += ',';
      done += std::to_string(id);
    }
    done += '}';
    if (done.size() > 2) {
      auto d = conn_->exec("DELETE FROM rollcall_outbox WHERE id = ANY($1::bigint[])", {done});
      if (!d.ok()) {
        conn_->run("ROLLBACK");
        return broken(d.error());
      }
    }
    if (auto e = conn_->run("COMMIT"); !e.empty()) return broken(e);
    if (store_failed || rows.rows() < static_cast<int>(kBatch)) return;
  }
}

}  // namespace rollcall::notify
