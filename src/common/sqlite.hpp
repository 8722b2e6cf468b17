// SQLite handles shared by the embedded stores (presence, notifications):
// the connection, and compiled statements kept per SQL text and lent out
// one at a time, reset (bindings cleared) when the loan ends.
#pragma once

#include "common/c_handle.hpp"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <unordered_map>

namespace rollcall {

using SqliteDb = CHandle<sqlite3, sqlite3_close_v2>;

struct StmtReset {
  void operator()(sqlite3_stmt* s) const noexcept {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};
using StmtLoan = std::unique_ptr<sqlite3_stmt, StmtReset>;

class StatementCache {
 public:
  // The statement for `sql`, compiled on first use; empty when it does not
  // compile (sqlite3_errmsg(db) says why). Declare the cache after the
  // SqliteDb it uses, so that its statements are finalized first.
  StmtLoan get(sqlite3* db, const char* sql) {
    auto& slot = statements_[sql];
    if (!slot) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        statements_.erase(sql);
        return StmtLoan();
      }
      slot.reset(s);
    }
    return StmtLoan(slot.get());
  }

 private:
  std::unordered_map<std::string, CHandle<sqlite3_stmt, sqlite3_finalize>> statements_;
};

}  // namespace rollcall
