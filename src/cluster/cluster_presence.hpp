// Presence for a cluster of nodes on one Redis: the Presence interface over
// the scripts of presence_lua.hpp.
//
// One thread of its own (an io_context and two Redis connections: one for
// the connects and disconnects of this node's sockets, in order, and one
// for the lease, the sweep and queries, so that neither waits behind the
// other). The loops post their sockets' connects and disconnects to it;
// they are sent to Redis in order, pipelined, and kept until Redis has
// answered, so when Redis is unreachable they wait (at most kMaxQueued,
// then the oldest are dropped and counted) and are sent again when it is
// back: the scripts are idempotent per (node, socket).
//
// Leases: the node registers (a new node key "<node_id>#<epoch>" per
// start) and renews every lease/3 from this thread, which socket work does
// not delay. Every lease/10 (at most every 250 ms) it sweeps: reaps nodes
// whose lease ran out and ends the graces that are due; the scripts make
// each of those happen once in the cluster. A node that finds itself
// fenced (reaped while it was frozen or cut off) drops what it had
// queued, registers again and calls on_fenced (the cluster then closes its
// clients, which reconnect under the new key).
//
// Transitions are announced by the node whose script decided them: org
// members get "presence" through a broadcast (which the cluster adapter
// carries to every node), and this node's on_online/on_offline callbacks
// run. Queries read Redis (one round trip, at most 2 s; none from the
// presence thread itself, e.g. from a callback).
#pragma once

#include "hooks/transition_log.hpp"
#include "redis/config.hpp"
#include "redis/redis_client.hpp"

#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rollcall::cluster {

struct PresenceConfig {
  redis::RedisConfig redis;
  std::string prefix = "rollcall";
  std::string node_id;  // empty: generated
  std::string address;  // shown in the admin API's node list (where the node listens)
  std::chrono::milliseconds lease{5000};
  std::chrono::milliseconds grace{5000};
  std::string nsp = "/";  // of the org "presence" events
  // Webhooks (url set, or discard for benchmarks): transitions go to the
  // P:outbox stream and one node of the cluster delivers them.
  WebhookOptions webhooks;
};

class ClusterWebhooks;

class ClusterPresence final : public Presence {
 public:
  using OrgBroadcast = std::function<void(const std::string& org, const std::string& user,
                                          const char* status)>;
  static constexpr std::size_t kMaxQueued = 100000;
  static constexpr std::size_t kMaxInFlight = 256;

  ClusterPresence(PresenceConfig config, OrgBroadcast broadcast);
  ~ClusterPresence() override;

  // Starts the thread and registers the node (retrying while Redis is
  // unreachable).
  void start();
  // Marks the node's lease as ended (the others reap what it still holds)
  // and stops the thread.
  void stop();
  // Called on the presence thread after the node was fenced and registered
  // again.
  void on_fenced(std::function<void()> fn) { on_fenced_ = std::move(fn); }

  // From any loop (Server::observe_sockets).
  void socket_connected(Socket& socket);
  void socket_disconnected(Socket& socket);
  void connected(const User& user, ConnectionInfo info);
  void disconnected(const std::string& user, const std::string& socket_id);

  const std::string& node_key() const noexcept { return node_key_; }  // presence thread

  // Presence.
  void on_online(Callback cb) override { online_callbacks_.push_back(std::move(cb)); }
  void on_offline(Callback cb) override { offline_callbacks_.push_back(std::move(cb)); }
  bool is_online(const std::string& user) const override;
  std::optional<UserPresence> get(const std::string& user) const override;
  std::vector<UserPresence> online_in_org(const std::string& org) const override;
  void online_in_org_async(const std::string& org, OrgCallback cb) const override;
  std::size_t online_count() const override;
  PresenceStoreHealth store_health() const override;
  std::vector<DeadLetter> dead_letters(std::size_t max) const override;
  std::optional<OnlinePage> list_online(const std::string& cursor, std::size_t limit) const override;
  std::optional<std::uint64_t> connection_total() const override;
  std::optional<std::vector<NodeInfo>> nodes() const override;
  std::optional<WebhookQueue> webhook_queue() const override;
  std::optional<std::size_t> retry_dead_letters() override;
  std::vector<PresenceEvent> recent_transitions(std::size_t max) const override;
  PresenceMetrics metrics() const override;

 private:
  struct Notice {
    bool connect = true;
    bool restore = false;  // a confirmed connection put back after Redis lost its data
    std::string user, socket_id;
    std::string info_json, name, orgs_json;  // connects only
    std::string event_id;  // connects: the id of the user.online it may cause
  };
  void enqueue(Notice n);
  void pump();
  void send(const Notice& n);
  void reply(std::error_code ec, const redis::RedisValue& v, bool connect);
  void failed(const std::string& why) const;
  void register_node();
  void renew();
  void sweep();
  // A script said "fenced": the node was reaped (fence) or Redis lost its
  // data (lost); check_generation tells which.
  void fenced();
  void check_generation(std::string key);
  void fence(const std::string& key);
  void lost(const std::string& key);
  void announce(const PresenceEvent& e, const std::string& orgs_json, bool online);
  std::vector<std::string> script(const std::string& source, std::vector<std::string> args) const;
  void call(const std::string& source, std::vector<std::string> args, redis::RedisClient::Callback cb);
  void noscript();
  // Runs Redis commands on the presence thread and waits (2 s) for the
  // replies; empty when they did not come.
  std::optional<std::vector<redis::RedisValue>> query(std::vector<std::vector<std::string>> commands) const;
  std::optional<UserPresence> parse_user(const std::string& user, const redis::RedisValue& hash) const;

  boost::asio::io_context ioc_{1};
  PresenceConfig config_;
  OrgBroadcast broadcast_;
  std::shared_ptr<redis::RedisClient> writes_;  // connects/disconnects, in order
  std::shared_ptr<redis::RedisClient> control_;  // register, renew, sweep, queries
  std::unique_ptr<ClusterWebhooks> webhooks_;     // null: webhooks off
  std::string outbox_flag_ = "0";                 // ARGV of the scripts: "1" with webhooks
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::function<void()> on_fenced_;
  std::vector<Callback> online_callbacks_, offline_callbacks_;
  // The transitions this node announced (the admin API asks every node
  // for its own and merges them), and its counters.
  hooks::TransitionLog log_;

  // Presence thread only.
  std::string node_key_;
  std::string gen_;  // the cluster's generation (P:gen) when this node registered
  bool restoring_ = false;  // registering again after Redis lost its data
  // This node's connections that Redis has confirmed (connect answered,
  // disconnect not yet): what it puts back when Redis lost its data.
  std::unordered_map<std::string, Notice> confirmed_;
  bool registering_ = false;
  bool fenced_before_ = false;  // registering again after being fenced
  // Since when the control connection has worked without a break (zero:
  // it is broken): sweeps wait one lease after an outage.
  std::chrono::steady_clock::time_point healthy_since_{};
  std::uint64_t floor_ = 0;  // the highest seq seen: the counter never goes below it
  std::deque<Notice> queue_;  // [0, in_flight_) sent and not answered yet
  std::size_t in_flight_ = 0;
  std::uint64_t flight_ = 0;  // replies of an older flight (before a NOSCRIPT) are ignored
  bool failing_ = false;
  std::chrono::milliseconds retry_delay_{0};
  boost::asio::steady_timer retry_timer_{ioc_};
  boost::asio::steady_timer renew_timer_{ioc_};
  boost::asio::steady_timer sweep_timer_{ioc_};
  std::uint64_t id_counter_ = 0;

  std::mutex inbox_mutex_;
  std::vector<Notice> inbox_;  // from the loops
  bool inbox_posted_ = false;

  mutable std::mutex health_mutex_;
  mutable PresenceStoreHealth health_;  // queries mark it too
};

}  // namespace rollcall::cluster
