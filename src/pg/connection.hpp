// A PostgreSQL connection on libpq: blocking queries with a deadline (the
// server-side statement_timeout and TCP user timeout are set at connect),
// and LISTEN/NOTIFY read from the socket when it is readable. Used from one
// thread at a time (the notifications worker).
#pragma once

#include "common/c_handle.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall::pg {

// The answer of one query: rows, or the server's (or connection's) error.
class Result {
 public:
  Result() = default;
  Result(CHandle<PGresult, PQclear> r, std::string error) : res_(std::move(r)), error_(std::move(error)) {}
  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  // SQLSTATE of the error ("23505" for a unique violation), "" if none.
  std::string sqlstate() const;
  int rows() const noexcept { return res_ ? PQntuples(res_.get()) : 0; }
  bool null(int row, int col) const noexcept { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const noexcept {
    return {PQgetvalue(res_.get(), row, col), static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
  }
  std::int64_t int64(int row, int col) const;
  bool boolean(int row, int col) const noexcept { return text(row, col) == "t"; }

 private:
  CHandle<PGresult, PQclear> res_;
  std::string error_;
};

struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;
};

// Parameters are text (NULL when nullopt), in the order of $1, $2, ...
using Params = std::vector<std::optional<std::string>>;

class Connection {
 public:
  struct Options {
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds statement_timeout{30000};
    std::string application_name = "rollcall";
  };
  // Connects (blocking, at most connect_timeout). nullptr and `error` set
  // when it cannot (the password is never part of the message).
  static std::unique_ptr<Connection> open(const std::string& url, std::string& error, Options options);
  static std::unique_ptr<Connection> open(const std::string& url, std::string& error) {
    return open(url, error, Options{});
  }

  // One statement with parameters, or (without) a script of several.
  Result exec(std::string_view sql, const Params& params = {});
  // exec() for statements that must succeed; returns the error or "".
  std::string run(std::string_view sql, const Params& params = {});

  bool healthy() const noexcept { return PQstatus(conn_.get()) == CONNECTION_OK; }
  int socket() const noexcept { return PQsocket(conn_.get()); }
  // Reads what the socket holds (call when it is readable); false when
  // the connection is broken.
  bool consume_input();
  // A NOTIFY received by consume_input() or by a query, oldest first.
  std::optional<Notification> next_notification();
  std::string last_error() const;

  // A quoted identifier ("rollcall" -> "\"rollcall\"").
  std::string quote_identifier(std::string_view name) const;
  // A quoted string literal ("it's" -> "'it''s'"), by the server's rules.
  std::string quote_literal(std::string_view text) const;

 private:
  explicit Connection(PGconn* c) : conn_(c) {}
  CHandle<PGconn, PQfinish> conn_;
};

}  // namespace rollcall::pg
