// The cluster's webhook outbox: the Redis stream P:outbox that the
// presence scripts write in the same call that decides a transition
// (presence_lua.hpp), delivered by exactly one node at a time.
//
// StreamOutbox implements hooks::Outbox over the stream for the ordinary
// WebhookSender. Its calls block (a private io_context runs a RedisClient
// until the replies come, at most the command timeout), so it lives on a
// thread of its own, ClusterWebhooks', where the sender runs too.
//
// Leadership: P:outbox:leader holds the owner id of the node delivering,
// with a TTL of one lease, taken or renewed by renew() (ClusterWebhooks
// calls it every lease/10, whatever the sender is doing) and pending(). A node that is
// not the leader gets nothing to send. delivered() and dead_letter() take
// events out of the stream only while the caller still leads, so an event
// leaves the stream only once delivered (or dead-lettered); a leader that
// dies mid-delivery leaves its batch to the next leader, which sends it
// again (receivers dedupe by id). One leader sending in stream order
// delivers the cluster's transitions in seq order, and so each user's.
//
// Keys (P = prefix): P:outbox (stream, written by the presence scripts),
// P:outbox:leader (string with TTL), P:outbox:attempts (hash: stream id ->
// failed attempts, while an event fails), P:outbox:dead (stream of the
// events given up on, capped at about 1,000).
#pragma once

#include "hooks/outbox.hpp"
#include "hooks/webhook_sender.hpp"
#include "redis/config.hpp"
#include "redis/redis_client.hpp"
#include "redis/value.hpp"

#include <rollcall/presence.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rollcall::cluster {

class StreamOutbox final : public hooks::Outbox {
 public:
  // `owner` names this node in P:outbox:leader; `lease` is the leadership's TTL.
  StreamOutbox(redis::RedisConfig redis, std::string prefix, std::string owner,
               std::chrono::milliseconds lease);
  ~StreamOutbox() override;

  std::vector<hooks::OutboxEvent> pending(std::size_t max) override;
  void delivered(const std::vector<std::int64_t>& rowids) override;
  void attempted(const std::vector<std::int64_t>& rowids) override;
  void dead_letter(const std::vector<std::int64_t>& rowids, const std::string& reason) override;
  std::vector<hooks::DeadLetter> dead(std::size_t max) override;
  hooks::OutboxCounts counts() override;
  std::size_t requeue_dead() override;

  // Takes or renews the lead; true while this node leads.
  bool renew();
  // Gives leadership up (if held), so another node takes over at once.
  void release();
  bool leader() const noexcept { return leader_; }

 private:
  // Runs the commands (pipelined) and waits for every reply; nullopt when
  // one failed or none came in time (logged).
  std::optional<std::vector<redis::RedisValue>> run(std::vector<std::vector<std::string>> commands,
                                                    const char* what);
  std::vector<std::string> ids_of(const std::vector<std::int64_t>& rowids) const;
  void lead(const redis::RedisValue& reply);

  boost::asio::io_context ioc_{1};
  // run() waits in run_one_until: the guard keeps it from returning at once
  // when nothing is pending.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{ioc_.get_executor()};
  std::shared_ptr<redis::RedisClient> client_;
  std::string prefix_, owner_;
  std::chrono::milliseconds lease_;
  bool leader_ = false;
  std::int64_t next_rowid_ = 1;
  std::unordered_map<std::int64_t, std::string> ids_;  // rowid -> stream id, of the last batches
};

// ARGV: prefix -> how many dead letters went back to P:outbox (new stream
// ids, so after what is queued; attempts and the dead-letter fields dropped).
const char* requeue_dead_script();

// An entry of P:outbox:dead (XRANGE/XREVRANGE form) as a dead letter.
std::optional<hooks::DeadLetter> dead_letter_of(const redis::RedisValue& entry);

// The webhook sender of a cluster node on its own thread: a WebhookSender
// over a StreamOutbox, woken by notify() (this node wrote a transition)
// and every `poll` (transitions of other nodes; a leader that died).
class ClusterWebhooks {
 public:
  // Throws std::invalid_argument for a bad webhook configuration.
  ClusterWebhooks(WebhookOptions options, redis::RedisConfig redis, std::string prefix,
                  std::string owner, std::chrono::milliseconds lease);
  ~ClusterWebhooks();

  void start();
  void notify();  // any thread
  hooks::WebhookSender::Stats stats() const { return sender_->stats(); }  // any thread
  // Stops the sender (undelivered events stay in the stream) and gives
  // leadership up; joins the thread.
  void stop();

 private:
  void tick();

  boost::asio::io_context ioc_{1};
  StreamOutbox outbox_;
  std::shared_ptr<hooks::WebhookSender> sender_;
  std::chrono::milliseconds poll_;
  boost::asio::steady_timer timer_{ioc_};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
  bool running_ = false;
};

}  // namespace rollcall::cluster
