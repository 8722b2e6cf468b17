// Where notifications, their recipients' read state and the membership
// directory are kept: SQLite (embedded, one node) or PostgreSQL (shared by
// a cluster). Both pass the one suite in store_test.cpp. Used from the
// notifications thread only; failures throw StoreError, caught once per
// job by the service.
#pragma once

#include <rollcall/notifications.hpp>

#include <boost/json/parse.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollcall::notify {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// JSON text a store holds (written by the service, so valid) as a value;
// null if it is not.
inline boost::json::value parse_stored_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  return ec ? boost::json::value() : v;
}

struct Recipient {
  std::string user;
  bool detail = false;  // may see the notification's detail
};

// A notification ready to store: JSON already serialised.
struct NewNotification {
  std::string type;
  std::string data;    // JSON text
  std::string detail;  // JSON text; "" when none
  std::string source;  // idempotency key; "" when none
  std::int64_t created_ms = 0;
};

struct Stored {
  std::int64_t id = 0;
  std::int64_t created_ms = 0;
  bool duplicate = false;  // the source was stored before: nothing written
};

struct ReadOutcome {
  std::vector<std::int64_t> ids;  // the given ids that are the user's
  std::uint64_t unread = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string describe() const = 0;  // "sqlite:/path" or the redacted URL

  // Membership directory.
  virtual void put_member(const Membership& m) = 0;
  virtual bool delete_member(const std::string& org, const std::string& user) = 0;
  virtual std::vector<Membership> members(const std::string& org) = 0;
  virtual std::vector<Membership> memberships(const std::string& user) = 0;
  virtual void replace_memberships(const std::string& user, const std::vector<OrgRole>& orgs) = 0;

  // Stores each notification for its recipients (distinct users), all in
  // one transaction (the service commits what arrived together at once).
  struct Insert {
    NewNotification notification;
    std::vector<Recipient> recipients;
  };
  virtual std::vector<Stored> insert_batch(const std::vector<Insert>& batch) = 0;
  Stored insert(const NewNotification& n, const std::vector<Recipient>& recipients) {
    return insert_batch({Insert{n, recipients}}).front();
  }
  // Newest first, ids below `before`, at most `limit` (+1 to know whether
  // there is a next page: the caller trims).
  virtual std::vector<Notification> list(const std::string& user, std::optional<std::int64_t> before,
                                         std::size_t limit) = 0;
  virtual std::uint64_t unread(const std::string& user) = 0;
  // Marks read; ids that are not the user's are ignored. all: every one.
  virtual ReadOutcome mark_read(const std::string& user, const std::vector<std::int64_t>& ids, bool all) = 0;

  // Retention: removes what is older than `older_than_ms`, the oldest
  // beyond `max_per_user` of each of `users`, and notifications nobody
  // holds any more. Returns the number of per-user rows removed.
  virtual std::size_t prune(std::int64_t older_than_ms, std::size_t max_per_user,
                            const std::vector<std::string>& users) = 0;
};

// "sqlite:PATH" or "postgresql://..."/"postgres://..."; throws StoreError.
std::unique_ptr<Store> open_store(const std::string& url);
std::unique_ptr<Store> open_sqlite_store(const std::string& path);
std::unique_ptr<Store> open_postgres_store(const std::string& url);

}  // namespace rollcall::notify
