// Users, not sockets: identity and exactly-once online/offline transitions.
#pragma once

#include <rollcall/stats.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall {

struct OrgRole {
  std::string id;
  std::string role;
};

// Who a socket belongs to. Set it in a middleware (Socket::set_user); the
// socket then joins user:<id>, org:<org> and org:<org>:role:<role> (built
// by the functions below) and counts towards the user's presence.
struct User {
  std::string id;
  std::string name;
  std::vector<OrgRole> orgs;
};

// The rooms of an identity. Every id and role goes through escape_room_part
// ('%' -> "%25", ':' -> "%3A"), so the parts of a name never contain ':'
// and no identity can produce another one's room: the org
// "acme:role:admin" gets "org:acme%3Arole%3Aadmin", not acme's admin room.
// Ids without '%' or ':' appear unchanged. docs/presence.md, "Rooms".
std::string escape_room_part(std::string_view part);
std::string user_room(std::string_view user);
std::string org_room(std::string_view org);
std::string org_role_room(std::string_view org, std::string_view role);

struct ConnectionInfo {
  std::string socket_id;
  std::string nsp;
  std::string transport;  // at connect time: "polling" or "websocket"
  std::string user_agent;
  std::string address;
  std::int64_t since_ms = 0;
  std::string node;  // in a cluster: the node_id of the node that holds it
};

struct UserPresence {
  std::string user;
  std::string name;
  std::vector<OrgRole> orgs;
  bool online = false;
  std::uint64_t seq = 0;       // sequence number of the last transition
  std::int64_t since_ms = 0;   // online since
  std::vector<ConnectionInfo> connections;
};

// One transition, as handed to on_online/on_offline and to the webhook.
struct PresenceEvent {
  std::string id;    // unique; webhook receivers dedupe by it
  std::string type;  // "user.online" or "user.offline"
  std::string user;
  std::uint64_t seq = 0;  // grows with every transition, also across restarts
  std::int64_t at_ms = 0;
  std::uint32_t connections = 0;
  std::vector<OrgRole> orgs;
};

struct WebhookOptions {
  std::string url;  // empty: no webhooks
  std::string secret;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{10000};
  std::size_t batch_max = 100;
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::seconds max_age{86400};  // then dead-lettered
  std::string ca_file;                  // extra CA for https targets
  // Benchmarks only (rollcalld --bench without a webhook URL): events go
  // through the outbox and each batch is built and signed as for a real
  // receiver, then dropped as delivered, without a request.
  bool discard = false;
};

// A webhook event given up on: still undelivered after
// WebhookOptions::max_age (Presence::dead_letters).
struct DeadLetter {
  std::string id;    // the event's id, as in the webhook
  std::string type;  // "user.online" or "user.offline"
  std::string user;
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;  // when the transition happened (Unix ms)
  std::uint32_t connections = 0;
  std::uint32_t attempts = 0;  // delivery attempts made
  std::int64_t dead_ms = 0;    // when it was given up (Unix ms)
  std::string reason;          // the last failure
};

// Unix milliseconds as RFC 3339 UTC with milliseconds
// ("2026-11-30T02:04:18.123Z"), the form of every time in the webhooks.
std::string format_rfc3339_ms(std::int64_t unix_ms);

// Where presence keeps what must survive a restart: the users believed
// online, the sequence counter and the webhook outbox. open_sqlite_store()
// is the embedded default; without a store, state lives in memory only.
class PresenceStore;
std::shared_ptr<PresenceStore> open_sqlite_store(const std::string& path);

struct PresenceOptions {
  bool enabled = true;
  std::chrono::milliseconds grace{5000};  // offline only after this long without connections
  std::string nsp = "/";                  // namespace of the "presence" events to org members
  std::shared_ptr<PresenceStore> store;   // null: in memory
  WebhookOptions webhooks;
};

// Whether transitions reach the store. When a write fails (disk full,
// read-only file), transitions wait in memory, in order, and are retried
// (100 ms, doubling up to 5 s) until stored; only then are they announced.
// At most 100,000 wait: past that the oldest are dropped, counted in `lost`
// and logged. docs/presence.md, "When the store fails".
struct PresenceStoreHealth {
  bool ok = true;                  // the last write succeeded
  std::size_t unstored = 0;        // transitions waiting to be stored
  std::uint64_t lost = 0;          // dropped past the bound since start
  std::string error;               // why the last write failed
  std::int64_t failing_since_ms = 0;  // Unix ms of the first failure of this run of failures
};

// A page of the users online now (Presence::list_online). `next` is the
// cursor of the following page, empty at the end.
struct OnlinePage {
  std::vector<UserPresence> users;
  std::string next;
};

// A node of the cluster (Presence::nodes).
struct NodeInfo {
  std::string id;
  std::string address;           // where it listens, as it registered
  std::int64_t lease_age_ms = 0; // since its lease was last renewed
  std::uint64_t connections = 0; // users' connections it holds
  bool self = false;             // the node answering
};

// The webhook queue (Presence::webhook_queue).
struct WebhookQueue {
  bool enabled = false;
  std::uint64_t pending = 0;   // waiting to be delivered (retrying ones included)
  std::uint64_t retrying = 0;  // of those, the ones that failed at least once
  std::uint64_t dead = 0;      // dead letters kept
  std::optional<DeadLetter> oldest;  // the oldest pending (dead_ms 0, reason empty)
};

// Counters since this process started (monitoring). Transitions count the
// ones this node decided; webhook figures the deliveries this node made.
struct PresenceMetrics {
  std::uint64_t online = 0, offline = 0;   // transitions
  std::uint64_t webhook_delivered = 0;     // events acknowledged with a 2xx
  std::uint64_t webhook_failed = 0;        // requests that failed
  std::uint64_t webhook_dead = 0;          // events dead-lettered
  HistogramSnapshot webhook_seconds;       // duration of each webhook request
};

// Node-style view of presence (Server::presence()). Queries are thread-safe.
// on_online/on_offline callbacks run on the presence thread, after the
// transition is stored. The built-in presence implements it for one node;
// the Redis cluster (<rollcall/cluster.hpp>) for many
// (Server::set_presence).
class Presence {
 public:
  using Callback = std::function<void(const PresenceEvent&)>;
  virtual ~Presence() = default;
  // Register before Server::run().
  virtual void on_online(Callback cb) = 0;
  virtual void on_offline(Callback cb) = 0;

  virtual bool is_online(const std::string& user) const = 0;
  virtual std::size_t connection_count(const std::string& user) const;  // get()'s
  virtual std::vector<ConnectionInfo> connections(const std::string& user) const;  // get()'s
  virtual std::optional<UserPresence> get(const std::string& user) const = 0;
  // Users of `org` that are online now.
  virtual std::vector<UserPresence> online_in_org(const std::string& org) const = 0;
  // The same without blocking the caller (a loop thread: the cluster's
  // presence asks Redis). `cb` runs once, on any thread, with the users, or
  // nullopt when they cannot be had now (Redis unreachable). The default
  // calls online_in_org() and `cb` at once.
  using OrgCallback = std::function<void(std::optional<std::vector<UserPresence>> users)>;
  virtual void online_in_org_async(const std::string& org, OrgCallback cb) const;
  virtual std::size_t online_count() const = 0;
  virtual PresenceStoreHealth store_health() const = 0;
  // The newest `max` dead-lettered webhook events, newest first (from the
  // store; waits for the presence thread, at most 2 s, else returns none).
  virtual std::vector<DeadLetter> dead_letters(std::size_t max) const = 0;

  // For operators (the admin API, metrics). The defaults answer "not
  // available" (nullopt) or nothing; the built-in and cluster presences
  // implement them. Like the queries above they may wait (at most 2 s) for
  // the presence thread or Redis: call them off the loops.
  //
  // Users online (in grace included), `limit` at a time, after `cursor`
  // (empty: from the start). nullopt: cannot be had now.
  virtual std::optional<OnlinePage> list_online(const std::string& cursor, std::size_t limit) const;
  // The users' connections counted by presence, in the whole cluster.
  virtual std::optional<std::uint64_t> connection_total() const;
  // The nodes sharing presence (one for the built-in presence).
  virtual std::optional<std::vector<NodeInfo>> nodes() const;
  virtual std::optional<WebhookQueue> webhook_queue() const;
  // Moves every dead letter back to the webhook queue (they are sent after
  // what is queued, with their original id and seq); how many moved.
  virtual std::optional<std::size_t> retry_dead_letters();
  // The newest transitions this node announced, newest first (at most
  // 1000 are kept; in a cluster each node keeps the ones it decided).
  virtual std::vector<PresenceEvent> recent_transitions(std::size_t max) const;
  virtual PresenceMetrics metrics() const;
};

}  // namespace rollcall
