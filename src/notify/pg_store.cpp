// The shared notification store: tables in a PostgreSQL database, created
// and migrated at start (several nodes starting at once serialise on an
// advisory lock). Every call is one round trip or one transaction.
#include "notify/store.hpp"
#include "pg/connection.hpp"


#include <algorithm>
#include <unordered_set>

namespace rollcall::notify {

namespace {

constexpr int kSchemaVersion = 1;
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE IF NOT EXISTS rollcall_org_members (
  org text NOT NULL, user_id text NOT NULL, role text NOT NULL,
  PRIMARY KEY (org, user_id));
CREATE INDEX IF NOT EXISTS rollcall_org_members_user ON rollcall_org_members (user_id);
CREATE TABLE IF NOT EXISTS rollcall_notifications (
  id bigserial PRIMARY KEY, type text NOT NULL, data text NOT NULL, detail text,
  source text UNIQUE, created_ms bigint NOT NULL);
CREATE TABLE IF NOT EXISTS rollcall_notification_recipients (
  user_id text NOT NULL, notification_id bigint NOT NULL, detail boolean NOT NULL,
  read boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, notification_id));
CREATE INDEX IF NOT EXISTS rollcall_notification_recipients_unread
  ON rollcall_notification_recipients (user_id) WHERE NOT read;
CREATE INDEX IF NOT EXISTS rollcall_notification_recipients_notification
  ON rollcall_notification_recipients (notification_id);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// A PostgreSQL array literal of text, NULL for nullopt: {"a","b\"c",NULL}.
std::string array(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (!items[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char ch : *items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + '}';
}

std::string text_array(const std::vector<std::string>& items) {
  return array(std::vector<std::optional<std::string>>(items.begin(), items.end()));
}

std::string int_array(const std::vector<std::int64_t>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

class PgStore final : public Store {
 public:
  explicit PgStore(const std::string& url) : url_(url), described_(redact_url(url)) {
    connect();
    auto& c = conn();
    check(c.exec("BEGIN"));
    check(c.exec("SELECT pg_advisory_xact_lock(hashtext('rollcall:notify:schema'))"));
    check(c.exec("CREATE TABLE IF NOT EXISTS rollcall_notify_schema (version integer NOT NULL)"));
    auto r = check(c.exec("SELECT version FROM rollcall_notify_schema"));
    int version = r.rows() ? static_cast<int>(r.int64(0, 0)) : 0;
    if (version > kSchemaVersion) {
      c.exec("ROLLBACK");
      throw StoreError("store " + described_ + ": notifications schema version " + std::to_string(version) +
                       " is newer than this rollcall's (" + std::to_string(kSchemaVersion) + ")");
    }
    for (int v = version; v < kSchemaVersion; ++v) check(c.exec(kMigrations[v]));
    check(c.exec("DELETE FROM rollcall_notify_schema"));
    check(c.exec("INSERT INTO rollcall_notify_schema (version) VALUES ($1)", {std::to_string(kSchemaVersion)}));
    check(c.exec("COMMIT"));
  }

  std::string describe() const override { return described_; }

  void put_member(const Membership& m) override {
    check(conn().exec(
        "INSERT INTO rollcall_org_members (org, user_id, role) VALUES ($1, $2, $3) "
        "ON CONFLICT (org, user_id) DO UPDATE SET role = excluded.role",
        {m.org, m.user, m.role}));
  }

  bool delete_member(const std::string& org, const std::string& user) override {
    auto r = check(conn().exec("DELETE FROM rollcall_org_members WHERE org = $1 AND user_id = $2 RETURNING 1",
                               {org, user}));
    return r.rows() > 0;
  }

  std::vector<Membership> members(const std::string& org) override {
    auto r = check(conn().exec("SELECT user_id, role FROM rollcall_org_members WHERE org = $1 ORDER BY user_id",
                               {org}));
    std::vector<Membership> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(Membership{std::string(r.text(i, 0)), org, std::string(r.text(i, 1))});
    return out;
  }

  std::vector<Membership> memberships(const std::string& user) override {
    auto r = check(conn().exec("SELECT org, role FROM rollcall_org_members WHERE user_id = $1 ORDER BY org",
                               {user}));
    std::vector<Membership> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(Membership{user, std::string(r.text(i, 0)), std::string(r.text(i, 1))});
    return out;
  }

  void replace_memberships(const std::string& user, const std::vector<OrgRole>& orgs) override {
    std::vector<std::string> ids, roles;
    for (const auto& o : orgs) {
      ids.push_back(o.id);
      roles.push_back(o.role);
    }
    // One statement: atomic without a transaction of our own.
    check(conn().exec(
        "WITH gone AS (DELETE FROM rollcall_org_members WHERE user_id = $1) "
        "INSERT INTO rollcall_org_members (org, user_id, role) "
        "SELECT DISTINCT ON (o) o, $1, r FROM unnest($2::text[], $3::text[]) AS t(o, r) "
        "ON CONFLICT (org, user_id) DO UPDATE SET role = excluded.role",
        {user, text_array(ids), text_array(roles)}));
  }

  // Five round trips for the whole batch, whatever its size: ids from the
  // sequence, the notifications (a source stored before is skipped), those
  // skipped looked up, the recipients, the commit.
  std::vector<Stored> insert_batch(const std::vector<Insert>& batch) override {
    auto& c = conn();
    check(c.exec("BEGIN"));
    Guard guard{c};
    const auto n = batch.size();
    auto ids = check(c.exec(
        "SELECT nextval(pg_get_serial_sequence('rollcall_notifications', 'id')) FROM generate_series(1, $1)",
        {std::to_string(n)}));
    std::vector<Stored> out(n);
    std::vector<std::optional<std::string>> id_text, types, datas, details, sources, created;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& nn = batch[i].notification;
      out[i].id = ids.int64(static_cast<int>(i), 0);
      out[i].created_ms = nn.created_ms;
      id_text.emplace_back(std::to_string(out[i].id));
      types.emplace_back(nn.type);
      datas.emplace_back(nn.data);
      details.push_back(nn.detail.empty() ? std::nullopt : std::optional<std::string>(nn.detail));
      sources.push_back(nn.source.empty() ? std::nullopt : std::optional<std::string>(nn.source));
      created.emplace_back(std::to_string(nn.created_ms));
    }
    auto inserted = check(c.exec(
        "INSERT INTO rollcall_notifications (id, type, data, detail, source, created_ms) "
        "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) "
        "ON CONFLICT (source) DO NOTHING RETURNING id",
        {array(id_text), array(types), array(datas), array(details), array(sources), array(created)}));
    std::unordered_set<std::int64_t> fresh;
    for (int i = 0; i < inserted.rows(); ++i) fresh.insert(inserted.int64(i, 0));
    std::vector<std::optional<std::string>> dup_sources;
    for (std::size_t i = 0; i < n; ++i) {
      if (fresh.count(out[i].id)) continue;
      out[i].duplicate = true;
      dup_sources.push_back(sources[i]);
    }
    if (!dup_sources.empty()) {  // rare: an outbox row seen again after a crash
      auto d = check(c.exec("SELECT source, id, created_ms FROM rollcall_notifications WHERE source = ANY($1::text[])",
                            {array(dup_sources)}));
      for (int r = 0; r < d.rows(); ++r) {
        for (std::size_t i = 0; i < n; ++i) {
          if (out[i].duplicate && sources[i] && *sources[i] == d.text(r, 0)) {
            out[i].id = d.int64(r, 1);
            out[i].created_ms = d.int64(r, 2);
          }
        }
      }
    }
    std::vector<std::optional<std::string>> users, rids, flags;
    for (std::size_t i = 0; i < n; ++i) {
      if (out[i].duplicate) continue;
      for (const auto& rc : batch[i].recipients) {
        users.emplace_back(rc.user);
        rids.emplace_back(id_text[i]);
        flags.emplace_back(rc.detail ? "t" : "f");
      }
    }
    if (!users.empty()) {
      check(c.exec(
          "INSERT INTO rollcall_notification_recipients (user_id, notification_id, detail) "
          "SELECT * FROM unnest($1::text[], $2::bigint[], $3::boolean[]) ON CONFLICT DO NOTHING",
          {array(users), array(rids), array(flags)}));
    }
    check(c.exec("COMMIT"));
    guard.done = true;
    return out;
  }

  std::vector<Notification> list(const std::string& user, std::optional<std::int64_t> before,
                                 std::size_t limit) override {
    auto r = check(conn().exec(
        "SELECT n.id, n.type, n.data, CASE WHEN r.detail THEN n.detail END, n.created_ms, r.read "
        "FROM rollcall_notification_recipients r JOIN rollcall_notifications n ON n.id = r.notification_id "
        "WHERE r.user_id = $1 AND r.notification_id < $2 ORDER BY r.notification_id DESC LIMIT $3",
        {user, std::to_string(before.value_or(INT64_MAX)), std::to_string(limit)}));
    std::vector<Notification> out;
    for (int i = 0; i < r.rows(); ++i) {
      Notification n;
      n.id = r.int64(i, 0);
      n.type = r.text(i, 1);
      n.data = parse_stored_json(r.text(i, 2));
      if (!r.null(i, 3)) n.detail = parse_stored_json(r.text(i, 3));
      n.created_ms = r.int64(i, 4);
      n.read = r.boolean(i, 5);
      out.push_back(std::move(n));
    }
    return out;
  }

  std::uint64_t unread(const std::string& user) override {
    auto r = check(conn().exec(
        "SELECT count(*) FROM rollcall_notification_recipients WHERE user_id = $1 AND NOT read", {user}));
    return static_cast<std::uint64_t>(r.int64(0, 0));
  }

  ReadOutcome mark_read(const std::string& user, const std::vector<std::int64_t>& ids, bool all) override {
    ReadOutcome out;
    auto& c = conn();
    if (all) {
      check(c.exec("UPDATE rollcall_notification_recipients SET read = true WHERE user_id = $1 AND NOT read",
                   {user}));
    } else if (!ids.empty()) {
      // The ids that are the user's, marked in the same statement.
      auto r = check(c.exec(
          "WITH mine AS (SELECT notification_id FROM rollcall_notification_recipients "
          "  WHERE user_id = $1 AND notification_id = ANY($2::bigint[])), "
          "marked AS (UPDATE rollcall_notification_recipients SET read = true "
          "  WHERE user_id = $1 AND notification_id = ANY($2::bigint[]) AND NOT read) "
          "SELECT notification_id FROM mine",
          {user, int_array(ids)}));
      std::vector<std::int64_t> found;
      for (int i = 0; i < r.rows(); ++i) found.push_back(r.int64(i, 0));
      for (auto id : ids) {  // in the caller's order
        if (std::find(found.begin(), found.end(), id) != found.end() &&
            std::find(out.ids.begin(), out.ids.end(), id) == out.ids.end()) {
          out.ids.push_back(id);
        }
      }
    }
    out.unread = unread(user);
    return out;
  }

  std::size_t prune(std::int64_t older_than_ms, std::size_t max_per_user,
                    const std::vector<std::string>& users) override {
    auto& c = conn();
    std::size_t removed = 0;
    auto r = check(c.exec(
        "DELETE FROM rollcall_notification_recipients WHERE notification_id IN "
        "(SELECT id FROM rollcall_notifications WHERE created_ms < $1) RETURNING 1",
        {std::to_string(older_than_ms)}));
    removed += static_cast<std::size_t>(r.rows());
    if (!users.empty()) {
      auto capped = check(c.exec(
          "DELETE FROM rollcall_notification_recipients d USING ("
          "  SELECT user_id, notification_id FROM ("
          "    SELECT user_id, notification_id, row_number() OVER "
          "      (PARTITION BY user_id ORDER BY notification_id DESC) AS n "
          "    FROM rollcall_notification_recipients WHERE user_id = ANY($1::text[])) ranked "
          "  WHERE n > $2) old "
          "WHERE d.user_id = old.user_id AND d.notification_id = old.notification_id RETURNING 1",
          {text_array(users), std::to_string(max_per_user)}));
      removed += static_cast<std::size_t>(capped.rows());
    }
    check(c.exec(
        "DELETE FROM rollcall_notifications n WHERE NOT EXISTS "
        "(SELECT 1 FROM rollcall_notification_recipients r WHERE r.notification_id = n.id)"));
    return removed;
  }

 private:
  struct Guard {
    pg::Connection& c;
    bool done = false;
    ~Guard() {
      if (!done) c.exec("ROLLBACK");
    }
  };

  void connect() {
    std::string error;
    conn_ = pg::Connection::open(url_, error);
    if (!conn_) throw StoreError("store " + described_ + ": cannot connect: " + error);
  }
  // The connection, reopened once if it broke since the last call.
  pg::Connection& conn() {
    if (!conn_ || !conn_->healthy()) connect();
    return *conn_;
  }
  pg::Result check(pg::Result r) {
    if (!r.ok()) throw StoreError("store " + described_ + ": " + r.error());
    return r;
  }

  std::string url_;
  std::string described_;
  std::unique_ptr<pg::Connection> conn_;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& url) { return std::make_unique<PgStore>(url); }

std::unique_ptr<Store> open_store(const std::string& url) {
  if (url.starts_with("sqlite:")) return open_sqlite_store(url.substr(7));
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return open_postgres_store(url);
  throw StoreError("store.url: unsupported scheme in '" + redact_url(url) +
                   "' (sqlite:PATH or postgresql://...)");
}

}  // namespace rollcall::notify
