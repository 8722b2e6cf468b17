// Organisation notifications: a membership directory (user, org, role),
// notifications published to users, orgs and roles, kept per recipient as
// a scroll-back history with read state, delivered live to every
// connection of each recipient (on every node of a cluster), with the
// `detail` only for the roles allowed to see it. Fed by the C++ API,
// rollcalld's HTTP API and PostgreSQL (LISTEN/NOTIFY and an outbox table).
// Package component `notify` (rollcall::notify). docs/notifications.md.
//
//   rollcall::Notifications notifications(io, {.store_url = "sqlite:/var/lib/app/n.db"});
//   io.notifications().publish(request, [](auto error, auto published) { ... });
#pragma once

#include <rollcall/server.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall {

// Who a notification is for. Each user is resolved once, however many
// entries name them.
struct NotificationAudience {
  std::vector<std::string> users;  // these users
  std::vector<std::string> orgs;   // every member of these orgs
  std::vector<OrgRole> roles;      // the members of `id` whose role is `role`
};

struct NotificationRequest {
  NotificationAudience audience;
  std::string type;
  boost::json::value data;
  std::optional<boost::json::value> detail;
  // Who sees `detail`: members whose role in one of the audience's orgs
  // (named in orgs or roles) is listed. Absent: every recipient.
  std::optional<std::vector<std::string>> detail_roles;
  // Idempotency key (the PostgreSQL outbox uses "outbox:<row id>"): a
  // request whose source was stored already is not stored nor sent again.
  std::string source;
};

// The JSON body of POST /v1/notifications, a NOTIFY and an outbox row:
// {"audience": {"users", "orgs", "roles": [{"org", "role"}]}, "type",
// "data", "detail"?, "detail_roles"?}. nullopt and `error` naming the bad
// field ("audience.roles[1].org: must be a non-empty string").
std::optional<NotificationRequest> parse_notification_request(std::string_view json, std::string& error);
std::optional<NotificationRequest> parse_notification_request(const boost::json::value& body, std::string& error);

// A notification as one user sees it (the `notification` event and
// history items).
struct Notification {
  std::int64_t id = 0;  // grows; the history's cursor
  std::string type;
  boost::json::value data;
  std::optional<boost::json::value> detail;  // only if this user may see it
  std::int64_t created_ms = 0;               // Unix ms
  bool read = false;
};
// {"id", "type", "data", "created_at", "read", "detail"?}
boost::json::object to_json(const Notification& n);

struct NotificationPage {
  std::vector<Notification> items;  // newest first
  std::optional<std::int64_t> next;  // pass as `before` for the next page; none at the end
  std::uint64_t unread = 0;
};

// {"items": [...], "next": id or null, "unread"}: the notifications:list
// ack and GET /v1/users/{user}/notifications.
boost::json::object to_json(const NotificationPage& page);

struct Membership {
  std::string user;
  std::string org;
  std::string role;
};

struct NotificationOptions {
  // "sqlite:PATH" (embedded) or "postgresql://..." (shared by a cluster).
  std::string store_url{};
  // Ingest from PostgreSQL: LISTEN on `channel`, read `rollcall_outbox`.
  // Empty: no PostgreSQL ingest.
  std::string postgres_url{};
  std::string channel = "rollcall";
  std::chrono::hours max_age{24 * 90};  // older notifications are removed
  std::size_t max_per_user = 1000;      // a user's oldest beyond this are removed
  std::chrono::milliseconds prune_every{30000};  // how often retention runs
  // Requests waiting for the notifications thread (publishes waiting to be
  // stored, and the other calls, each counted apart) at most; past it a
  // call is answered at once with "notifications are busy: ...".
  std::size_t max_waiting = 10000;
  std::string nsp = "/";                // namespace of the events and the socket API
  // The `orgs` of a socket's User replace that user's memberships when it
  // connects (a User without orgs leaves them as they are).
  bool memberships_from_users = true;
};

// Outcomes: callbacks get an error message ("" = success). They run on the
// notifications thread: post to a socket (Socket::post) before touching it.
class Notifications {
 public:
  // Opens the store (creating or migrating its schema), attaches to
  // `server` (socket API, live delivery, memberships) and starts the
  // PostgreSQL ingest. Throws std::invalid_argument for bad options and
  // std::runtime_error when the store cannot be opened. Before run().
  Notifications(Server& server, NotificationOptions options);
  ~Notifications();  // stop()
  Notifications(const Notifications&) = delete;
  Notifications& operator=(const Notifications&) = delete;
  // Finishes the jobs queued, closes the store and PostgreSQL. After run().
  void stop();

  struct Published {
    std::int64_t id = 0;
    std::size_t recipients = 0;  // distinct users it was stored for
    bool duplicate = false;      // its source had been stored before
  };
  using PublishCallback = std::function<void(const std::string& error, Published)>;
  // Stores the notification for every recipient, then sends it to their
  // connections. `cb` (optional) runs once it is stored, or failed to be.
  void publish(NotificationRequest request, PublishCallback cb = {});

  // History of `user`, newest first: before an id (exclusive), at most
  // `limit` (1..200).
  void list(std::string user, std::optional<std::int64_t> before, std::size_t limit,
            std::function<void(const std::string& error, NotificationPage)> cb);
  // Marks `ids` (those that are `user`'s; others are ignored), or all of
  // them, as read; then every connection of `user` except socket
  // `except_socket` gets `notifications:read`. cb: the ids that are the
  // user's, and the unread count after.
  struct ReadResult {
    std::vector<std::int64_t> ids;
    bool all = false;
    std::uint64_t unread = 0;
  };
  void mark_read(std::string user, std::vector<std::int64_t> ids, bool all, std::string except_socket,
                 std::function<void(const std::string& error, ReadResult)> cb);

  // The membership directory.
  void set_member(Membership m, std::function<void(const std::string& error)> cb);
  void remove_member(std::string org, std::string user,
                     std::function<void(const std::string& error, bool removed)> cb);
  void members(std::string org, std::function<void(const std::string& error, std::vector<Membership>)> cb);
  // Replaces every membership of `user` (what a token's orgs claim does).
  void set_memberships(std::string user, std::vector<OrgRole> orgs,
                       std::function<void(const std::string& error)> cb = {});

  struct Health {
    bool store_ok = true;
    std::string store_error;
    bool postgres_configured = false;
    bool postgres_connected = false;
    std::string postgres_error;
    std::uint64_t published = 0;  // notifications stored (not duplicates) since start
  };
  Health health() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// {"ids": [...]} or {"all": true}, with "unread": the notifications:read
// event and the answer of POST /v1/users/{user}/notifications/read.
boost::json::object to_json(const Notifications::ReadResult& result);

}  // namespace rollcall
