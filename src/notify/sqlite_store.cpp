// The embedded notification store: tables in the SQLite file of
// store.url (WAL, shared with presence, which writes its own tables).
#include "notify/store.hpp"
#include "common/sqlite.hpp"

#include <sqlite3.h>

#include <filesystem>

namespace rollcall::notify {

namespace {

using Stmt = StmtLoan;

constexpr int kSchemaVersion = 1;

// Migrations, in order: migrations[i] takes the schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE IF NOT EXISTS org_members (
  org TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
  PRIMARY KEY (org, user_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS org_members_user ON org_members (user_id);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL,
  detail TEXT, source TEXT UNIQUE, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS notification_recipients (
  user_id TEXT NOT NULL, notification_id INTEGER NOT NULL, detail INTEGER NOT NULL,
  read INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, notification_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notification_recipients_unread
  ON notification_recipients (user_id) WHERE read = 0;
CREATE INDEX IF NOT EXISTS notification_recipients_notification
  ON notification_recipients (notification_id);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {
    std::error_code fec;
    auto dir = std::filesystem::path(path_).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, fec);
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail("cannot open");
    sqlite3_busy_timeout(db_.get(), 5000);
    // A 64 MiB page cache and the file mapped: the recipients table and its
    // indexes are read without a system call per page.
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; "
         "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;");
    exec("CREATE TABLE IF NOT EXISTS notify_schema (version INTEGER NOT NULL)");
    int version = 0;
    {
      auto s = prepare("SELECT version FROM notify_schema");
      if (step(s) == SQLITE_ROW) version = sqlite3_column_int(s.get(), 0);
    }
    if (version > kSchemaVersion) {
      throw StoreError("store " + path_ + ": notifications schema version " + std::to_string(version) +
                       " is newer than this rollcall's (" + std::to_string(kSchemaVersion) + ")");
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      exec("BEGIN IMMEDIATE");
      exec(kMigrations[v]);
      exec("DELETE FROM notify_schema");
      exec("INSERT INTO notify_schema (version) VALUES (" + std::to_string(v + 1) + ")");
      exec("COMMIT");
    }
  }

  std::string describe() const override { return "sqlite:" + path_; }

  void put_member(const Membership& m) override {
    auto s = prepare(
        "INSERT INTO org_members (org, user_id, role) VALUES (?, ?, ?) "
        "ON CONFLICT (org, user_id) DO UPDATE SET role = excluded.role");
    bind(s, 1, m.org);
    bind(s, 2, m.user);
    bind(s, 3, m.role);
    done(s);
  }

  bool delete_member(const std::string& org, const std::string& user) override {
    auto s = prepare("DELETE FROM org_members WHERE org = ? AND user_id = ?");
    bind(s, 1, org);
    bind(s, 2, user);
    done(s);
    return sqlite3_changes(db_.get()) > 0;
  }

  std::vector<Membership> members(const std::string& org) override {
    auto s = prepare("SELECT user_id, role FROM org_members WHERE org = ? ORDER BY user_id");
    bind(s, 1, org);
    std::vector<Membership> out;
    while (step(s) == SQLITE_ROW) out.push_back(Membership{column(s, 0), org, column(s, 1)});
    return out;
  }

  std::vector<Membership> memberships(const std::string& user) override {
    auto s = prepare("SELECT org, role FROM org_members WHERE user_id = ? ORDER BY org");
    bind(s, 1, user);
    std::vector<Membership> out;
    while (step(s) == SQLITE_ROW) out.push_back(Membership{user, column(s, 0), column(s, 1)});
    return out;
  }

  void replace_memberships(const std::string& user, const std::vector<OrgRole>& orgs) override {
    Transaction tx(*this);
    {
      auto s = prepare("DELETE FROM org_members WHERE user_id = ?");
      bind(s, 1, user);
      done(s);
    }
    for (const auto& o : orgs) put_member(Membership{user, o.id, o.role});
    tx.commit();
  }

  std::vector<Stored> insert_batch(const std::vector<Insert>& batch) override {
    Transaction tx(*this);
    std::vector<Stored> out;
    out.reserve(batch.size());
    for (const auto& b : batch) out.push_back(insert_one(b.notification, b.recipients));
    tx.commit();
    return out;
  }

  // Inside a transaction.
  Stored insert_one(const NewNotification& n, const std::vector<Recipient>& recipients) {
    Stored out;
    out.created_ms = n.created_ms;
    if (!n.source.empty()) {
      auto s = prepare("SELECT id, created_ms FROM notifications WHERE source = ?");
      bind(s, 1, n.source);
      if (step(s) == SQLITE_ROW) {
        out.id = sqlite3_column_int64(s.get(), 0);
        out.created_ms = sqlite3_column_int64(s.get(), 1);
        out.duplicate = true;
        return out;  // nothing written
      }
    }
    {
      auto s = prepare(
          "INSERT INTO notifications (type, data, detail, source, created_ms) VALUES (?, ?, ?, ?, ?)");
      bind(s, 1, n.type);
      bind(s, 2, n.data);
      bind_or_null(s, 3, n.detail);
      bind_or_null(s, 4, n.source);
      sqlite3_bind_int64(s.get(), 5, n.created_ms);
      done(s);
      out.id = sqlite3_last_insert_rowid(db_.get());
    }
    auto s = prepare(
        "INSERT OR IGNORE INTO notification_recipients (user_id, notification_id, detail) VALUES (?, ?, ?)");
    for (const auto& r : recipients) {
      bind(s, 1, r.user);
      sqlite3_bind_int64(s.get(), 2, out.id);
      sqlite3_bind_int(s.get(), 3, r.detail ? 1 : 0);
      done(s);
      sqlite3_reset(s.get());
    }
    return out;
  }

  std::vector<Notification> list(const std::string& user, std::optional<std::int64_t> before,
                                 std::size_t limit) override {
    auto s = prepare(
        "SELECT n.id, n.type, n.data, CASE WHEN r.detail THEN n.detail END, n.created_ms, r.read "
        "FROM notification_recipients r JOIN notifications n ON n.id = r.notification_id "
        "WHERE r.user_id = ? AND r.notification_id < ? ORDER BY r.notification_id DESC LIMIT ?");
    bind(s, 1, user);
    sqlite3_bind_int64(s.get(), 2, before.value_or(INT64_MAX));
    sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(limit));
    std::vector<Notification> out;
    while (step(s) == SQLITE_ROW) {
      Notification n;
      n.id = sqlite3_column_int64(s.get(), 0);
      n.type = column(s, 1);
      n.data = parse_stored_json(column(s, 2));
      if (sqlite3_column_type(s.get(), 3) != SQLITE_NULL) n.detail = parse_stored_json(column(s, 3));
      n.created_ms = sqlite3_column_int64(s.get(), 4);
      n.read = sqlite3_column_int(s.get(), 5) != 0;
      out.push_back(std::move(n));
    }
    return out;
  }

  std::uint64_t unread(const std::string& user) override {
    auto s = prepare("SELECT count(*) FROM notification_recipients WHERE user_id = ? AND read = 0");
    bind(s, 1, user);
    step(s);
    return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
  }

  ReadOutcome mark_read(const std::string& user, const std::vector<std::int64_t>& ids, bool all) override {
    Transaction tx(*this);
    ReadOutcome out;
    if (all) {
      auto s = prepare("UPDATE notification_recipients SET read = 1 WHERE user_id = ? AND read = 0");
      bind(s, 1, user);
      done(s);
    } else {
      auto find = prepare("SELECT 1 FROM notification_recipients WHERE user_id = ? AND notification_id = ?");
      auto upd = prepare(
          "UPDATE notification_recipients SET read = 1 WHERE user_id = ? AND notification_id = ?");
      for (auto id : ids) {
        bind(find, 1, user);
        sqlite3_bind_int64(find.get(), 2, id);
        bool mine = step(find) == SQLITE_ROW;
        sqlite3_reset(find.get());
        if (!mine) continue;
        out.ids.push_back(id);
        bind(upd, 1, user);
        sqlite3_bind_int64(upd.get(), 2, id);
        done(upd);
        sqlite3_reset(upd.get());
      }
    }
    out.unread = unread(user);
    tx.commit();
    return out;
  }

  std::size_t prune(std::int64_t older_than_ms, std::size_t max_per_user,
                    const std::vector<std::string>& users) override {
    Transaction tx(*this);
    std::size_t removed = 0;
    {
      auto s = prepare(
          "DELETE FROM notification_recipients WHERE notification_id IN "
          "(SELECT id FROM notifications WHERE created_ms < ?)");
      sqlite3_bind_int64(s.get(), 1, older_than_ms);
      done(s);
      removed += static_cast<std::size_t>(sqlite3_changes(db_.get()));
    }
    auto cap = prepare(
        "DELETE FROM notification_recipients WHERE user_id = ?1 AND notification_id <= "
        "(SELECT notification_id FROM notification_recipients WHERE user_id = ?1 "
        " ORDER BY notification_id DESC LIMIT 1 OFFSET ?2)");
    for (const auto& u : users) {
      bind(cap, 1, u);
      sqlite3_bind_int64(cap.get(), 2, static_cast<sqlite3_int64>(max_per_user));
      done(cap);
      sqlite3_reset(cap.get());
      removed += static_cast<std::size_t>(sqlite3_changes(db_.get()));
    }
    exec(
        "DELETE FROM notifications WHERE NOT EXISTS (SELECT 1 FROM notification_recipients r "
        "WHERE r.notification_id = notifications.id)");
    tx.commit();
    return removed;
  }

 private:
  struct Transaction {
    explicit Transaction(SqliteStore& s) : store(s) { store.exec("BEGIN IMMEDIATE"); }
    ~Transaction() {
      if (!committed) sqlite3_exec(store.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
      store.exec("COMMIT");
      committed = true;
    }
    SqliteStore& store;
    bool committed = false;
  };

  [[noreturn]] void fail(const std::string& what) const {
    throw StoreError("store sqlite:" + path_ + ": " + what + ": " +
                     (db_ ? sqlite3_errmsg(db_.get()) : "cannot allocate"));
  }
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "error";
      sqlite3_free(err);
      throw StoreError("store sqlite:" + path_ + ": " + msg);
    }
  }
  // Statements are prepared once and kept; one loan of each at a time.
  Stmt prepare(const char* sql) {
    auto s = statements_.get(db_.get(), sql);
    if (!s) fail("prepare");
    return s;
  }
  static void bind(Stmt& s, int i, const std::string& v) {
    sqlite3_bind_text(s.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  static void bind_or_null(Stmt& s, int i, const std::string& v) {
    if (v.empty()) {
      sqlite3_bind_null(s.get(), i);
    } else {
      bind(s, i, v);
    }
  }
  int step(Stmt& s) {
    int rc = sqlite3_step(s.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail("query");
    return rc;
  }
  void done(Stmt& s) { step(s); }
  static std::string column(Stmt& s, int i) {
    const auto* p = sqlite3_column_text(s.get(), i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s.get(), i)))
             : std::string();
  }

  std::string path_;
  SqliteDb db_;                 // declared first: destroyed after the statements
  StatementCache statements_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace rollcall::notify
