// The embedded presence store: one SQLite file (WAL) holding the users
// believed online, the sequence counter, the webhook outbox and the dead
// letters. Only live users and undelivered events are kept.
#include "presence/store.hpp"
#include "common/sqlite.hpp"
#include "common/clock.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace rollcall {

namespace {


constexpr std::size_t kDeadLetterKeep = 10000;

std::string orgs_json(const std::vector<OrgRole>& orgs) {
  boost::json::array a;
  for (const auto& o : orgs) {
    boost::json::object j;
    j["id"] = o.id;
    j["role"] = o.role;
    a.push_back(std::move(j));
  }
  return boost::json::serialize(a);
}

std::vector<OrgRole> parse_orgs(std::string_view text) {
  std::vector<OrgRole> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    OrgRole r;
    if (auto* id = o.if_contains("id"); id && id->is_string()) r.id = id->as_string();
    if (auto* role = o.if_contains("role"); role && role->is_string()) r.role = role->as_string();
    out.push_back(std::move(r));
  }
  return out;
}

class SqliteStore final : public PresenceStore, public hooks::Outbox {
 public:
  explicit SqliteStore(const std::string& path) : path_(path) {
    std::error_code ec;
    auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) {
      throw std::runtime_error("store " + path + ": cannot open: " +
                               (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) + hint(rc));
    }
    sqlite3_busy_timeout(db_.get(), 2000);
    // One process owns the store (two rollcalld on one data directory would
    // both claim the same users): hold the lock for the whole run, which
    // also spares the advisory-lock system calls of every transaction.
    exec("PRAGMA locking_mode=EXCLUSIVE");
    if (sqlite3_exec(db_.get(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
      if (sqlite3_errcode(db_.get()) == SQLITE_BUSY) {
        throw std::runtime_error("store " + path + ": in use by another process (another rollcalld on "
                                 "the same data directory?)");
      }
      fail("PRAGMA journal_mode=WAL");
    }
    exec("PRAGMA synchronous=NORMAL");
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    // Few B-trees per table: every page a commit touches is written to the
    // WAL. `presence` is keyed by user alone (no separate rowid tree); outbox
    // rowids need no AUTOINCREMENT (a row is only deleted once delivered, so
    // a reused rowid still sorts after every row waiting) and event ids are
    // unique by construction (random). Stores made by earlier versions keep
    // their schema; the statements below work on both.
    exec("CREATE TABLE IF NOT EXISTS presence(user TEXT PRIMARY KEY, name TEXT NOT NULL, "
         "orgs TEXT NOT NULL, seq INTEGER NOT NULL, since_ms INTEGER NOT NULL) WITHOUT ROWID");
    exec("CREATE TABLE IF NOT EXISTS outbox(rowid INTEGER PRIMARY KEY, "
         "id TEXT NOT NULL, type TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL, "
         "at_ms INTEGER NOT NULL, connections INTEGER NOT NULL, created_ms INTEGER NOT NULL, "
         "attempts INTEGER NOT NULL DEFAULT 0)");
    exec("CREATE TABLE IF NOT EXISTS dead_letter(rowid INTEGER PRIMARY KEY AUTOINCREMENT, "
         "id TEXT NOT NULL, type TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL, "
         "at_ms INTEGER NOT NULL, connections INTEGER NOT NULL, created_ms INTEGER NOT NULL, "
         "attempts INTEGER NOT NULL, dead_ms INTEGER NOT NULL, reason TEXT NOT NULL)");
    exec("INSERT OR IGNORE INTO meta(key, value) VALUES('seq', 0)");
  }

  // --- PresenceStore ---
  std::vector<StoredUser> load_online() override {
    std::vector<StoredUser> out;
    auto s = prepare("SELECT user, name, orgs, seq, since_ms FROM presence");
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      StoredUser u;
      u.user = text(s.get(), 0);
      u.name = text(s.get(), 1);
      u.orgs = parse_orgs(text(s.get(), 2));
      u.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 3));
      u.since_ms = sqlite3_column_int64(s.get(), 4);
      out.push_back(std::move(u));
    }
    return out;
  }

  std::uint64_t last_seq() override {
    auto s = prepare("SELECT value FROM meta WHERE key='seq'");
    if (sqlite3_step(s.get()) != SQLITE_ROW) return 0;
    return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
  }

  bool record(const std::vector<Transition>& batch, bool enqueue, std::string& error) override {
    if (batch.empty()) return true;
    try {
      run("BEGIN IMMEDIATE");
      const auto now = unix_ms();
      std::uint64_t top = 0;
      for (const auto& [kind, e, row] : batch) {
        top = std::max(top, e.seq);
        if (kind == TransitionKind::online) {
          auto s = prepare("INSERT OR REPLACE INTO presence(user, name, orgs, seq, since_ms) "
                           "VALUES(?, ?, ?, ?, ?)");
          bind(s.get(), 1, row.user);
          bind(s.get(), 2, row.name);
          bind(s.get(), 3, orgs_json(row.orgs));
          bind(s.get(), 4, static_cast<std::int64_t>(e.seq));
          bind(s.get(), 5, row.since_ms);
          step_done(s.get());
        } else {
          auto s = prepare("DELETE FROM presence WHERE user = ?");
          bind(s.get(), 1, e.user);
          step_done(s.get());
        }
        if (enqueue) {
          auto s = prepare("INSERT INTO outbox(id, type, user, seq, at_ms, connections, created_ms) "
                           "VALUES(?, ?, ?, ?, ?, ?, ?)");
          bind(s.get(), 1, e.id);
          bind(s.get(), 2, e.type);
          bind(s.get(), 3, e.user);
          bind(s.get(), 4, static_cast<std::int64_t>(e.seq));
          bind(s.get(), 5, e.at_ms);
          bind(s.get(), 6, static_cast<std::int64_t>(e.connections));
          bind(s.get(), 7, now);
          step_done(s.get());
        }
      }
      {
        auto s = prepare("UPDATE meta SET value = max(value, ?) WHERE key='seq'");
        bind(s.get(), 1, static_cast<std::int64_t>(top));
        step_done(s.get());
      }
      run("COMMIT");
      return true;
    } catch (const std::exception& ex) {
      error = ex.what();
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
  }

  hooks::Outbox& outbox() override { return *this; }

  // --- Outbox ---
  std::vector<hooks::OutboxEvent> pending(std::size_t max) override {
    std::vector<hooks::OutboxEvent> out;
    auto s = prepare("SELECT rowid, id, type, user, seq, at_ms, connections, created_ms, attempts "
                     "FROM outbox ORDER BY rowid LIMIT ?");
    bind(s.get(), 1, static_cast<std::int64_t>(max));
    while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_event(s.get(), 0));
    return out;
  }

  void delivered(const std::vector<std::int64_t>& rowids) override {
    for_rows(rowids, "DELETE FROM outbox WHERE rowid = ?");
  }

  void attempted(const std::vector<std::int64_t>& rowids) override {
    for_rows(rowids, "UPDATE outbox SET attempts = attempts + 1 WHERE rowid = ?");
  }

  void dead_letter(const std::vector<std::int64_t>& rowids, const std::string& reason) override {
    try {
      run("BEGIN IMMEDIATE");
      for (auto id : rowids) {
        auto s = prepare("INSERT INTO dead_letter(id, type, user, seq, at_ms, connections, "
                         "created_ms, attempts, dead_ms, reason) SELECT id, type, user, seq, "
                         "at_ms, connections, created_ms, attempts, ?, ? FROM outbox WHERE rowid = ?");
        bind(s.get(), 1, unix_ms());
        bind(s.get(), 2, reason);
        bind(s.get(), 3, id);
        step_done(s.get());
        auto d = prepare("DELETE FROM outbox WHERE rowid = ?");
        bind(d.get(), 1, id);
        step_done(d.get());
      }
      // Dead letters are for inspection, not an archive: keep the newest.
      auto s = prepare("DELETE FROM dead_letter WHERE rowid <= (SELECT max(rowid) FROM "
                       "dead_letter) - ?");
      bind(s.get(), 1, static_cast<std::int64_t>(kDeadLetterKeep));
      step_done(s.get());
      run("COMMIT");
    } catch (const std::exception& ex) {
      spdlog::error("cannot dead-letter events: {}", ex.what());
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  hooks::OutboxCounts counts() override {
    hooks::OutboxCounts c;
    auto s = prepare("SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM outbox WHERE "
                     "attempts > 0), (SELECT count(*) FROM dead_letter)");
    if (sqlite3_step(s.get()) == SQLITE_ROW) {
      c.pending = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
      c.retrying = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 1));
      c.dead = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 2));
    }
    if (auto oldest = pending(1); !oldest.empty()) c.oldest = std::move(oldest.front());
    return c;
  }

  std::size_t requeue_dead() override {
    try {
      run("BEGIN IMMEDIATE");
      auto s = prepare("INSERT INTO outbox(id, type, user, seq, at_ms, connections, created_ms) "
                       "SELECT id, type, user, seq, at_ms, connections, ? FROM dead_letter ORDER BY rowid");
      bind(s.get(), 1, unix_ms());
      step_done(s.get());
      const auto moved = static_cast<std::size_t>(sqlite3_changes(db_.get()));
      run("DELETE FROM dead_letter");
      run("COMMIT");
      return moved;
    } catch (const std::exception& ex) {
      spdlog::error("cannot move dead letters back to the outbox: {}", ex.what());
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return 0;
    }
  }

  std::vector<hooks::DeadLetter> dead(std::size_t max) override {
    std::vector<hooks::DeadLetter> out;
    auto s = prepare("SELECT rowid, id, type, user, seq, at_ms, connections, created_ms, attempts, "
                     "dead_ms, reason FROM dead_letter ORDER BY rowid DESC LIMIT ?");
    bind(s.get(), 1, static_cast<std::int64_t>(max));
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      hooks::DeadLetter d;
      d.event = read_event(s.get(), 0);
      d.dead_ms = sqlite3_column_int64(s.get(), 9);
      d.reason = text(s.get(), 10);
      out.push_back(std::move(d));
    }
    return out;
  }

 private:
  static std::string text(sqlite3_stmt* s, int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
  }

  static hooks::OutboxEvent read_event(sqlite3_stmt* s, int c) {
    hooks::OutboxEvent e;
    e.rowid = sqlite3_column_int64(s, c);
    e.id = text(s, c + 1);
    e.type = text(s, c + 2);
    e.user = text(s, c + 3);
    e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, c + 4));
    e.at_ms = sqlite3_column_int64(s, c + 5);
    e.connections = static_cast<std::uint32_t>(sqlite3_column_int64(s, c + 6));
    e.created_ms = sqlite3_column_int64(s, c + 7);
    e.attempts = static_cast<std::uint32_t>(sqlite3_column_int64(s, c + 8));
    return e;
  }

  // Names the file: an operator reading "disk I/O error" needs to know
  // which directory is read-only or full.
  void fail(const char* what) const {
    throw std::runtime_error("store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_.get()) +
                             hint(sqlite3_errcode(db_.get())));
  }

  static std::string hint(int code) {
    switch (code & 0xff) {
      case SQLITE_FULL: return " (the file system holding the store is full)";
      case SQLITE_IOERR:
      case SQLITE_READONLY:
      case SQLITE_CANTOPEN:
      case SQLITE_PERM:
        return " (is the data directory writable, and is its file system not full?)";
      default: return {};
    }
  }

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw std::runtime_error("store " + path_ + ": " + sql + ": " + msg +
                               hint(sqlite3_errcode(db_.get())));
    }
  }

  // Statements are compiled once and kept: a presence transition runs the
  // same few statements every time.
  StmtLoan prepare(const char* sql) {
    auto s = statements_.get(db_.get(), sql);
    if (!s) fail(sql);
    return s;
  }

  // One statement without results (BEGIN, COMMIT), compiled once.
  void run(const char* sql) {
    auto s = prepare(sql);
    if (sqlite3_step(s.get()) != SQLITE_DONE) fail(sql);
  }

  void bind(sqlite3_stmt* s, int i, std::int64_t v) {
    if (sqlite3_bind_int64(s, i, v) != SQLITE_OK) fail("bind");
  }
  void bind(sqlite3_stmt* s, int i, const std::string& v) {
    if (sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
      fail("bind");
    }
  }
  void step_done(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE) fail("step");
  }

  void for_rows(const std::vector<std::int64_t>& rowids, const char* sql) {
    try {
      run("BEGIN IMMEDIATE");
      auto s = prepare(sql);
      for (auto id : rowids) {
        sqlite3_reset(s.get());
        bind(s.get(), 1, id);
        step_done(s.get());
      }
      run("COMMIT");
    } catch (const std::exception& ex) {
      spdlog::error("{}", ex.what());
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  std::string path_;
  SqliteDb db_;
  StatementCache statements_;  // after db_: finalized first
};

}  // namespace

std::shared_ptr<PresenceStore> open_sqlite_store(const std::string& path) {
  return std::make_shared<SqliteStore>(path);
}

}  // namespace rollcall
