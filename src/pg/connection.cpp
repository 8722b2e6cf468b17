#include "pg/connection.hpp"

#include <charconv>
#include <cstdlib>

namespace rollcall::pg {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string Result::sqlstate() const {
  if (!res_) return "";
  const char* s = PQresultErrorField(res_.get(), PG_DIAG_SQLSTATE);
  return s ? s : "";
}

std::int64_t Result::int64(int row, int col) const {
  auto t = text(row, col);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::unique_ptr<Connection> Connection::open(const std::string& url, std::string& error, Options o) {
  const std::string timeout = std::to_string(o.connect_timeout.count());
  const std::string options = "-c statement_timeout=" + std::to_string(o.statement_timeout.count());
  // A dead peer is noticed by the kernel within ~20 s even mid-query.
  const char* keys[] = {"dbname",           "connect_timeout", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "options",
                        "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), "1",    "10", "5", "2", "20000",
                          options.c_str(), o.application_name.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (raw == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  std::unique_ptr<Connection> c(new Connection(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    error = trim(PQerrorMessage(raw));
    return nullptr;
  }
  return c;
}

Result Connection::exec(std::string_view sql, const Params& params) {
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  // Without parameters: the simple protocol, which also runs scripts of
  // several statements (the schema).
  PGresult* r = params.empty() ? PQexec(conn_.get(), text.c_str())
                               : PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()),
                                              nullptr, values.data(), nullptr, nullptr, 0);
  CHandle<PGresult, PQclear> res(r);
  if (r == nullptr) return Result({}, trim(PQerrorMessage(conn_.get())));
  auto status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string msg = trim(PQresultErrorMessage(r));
    if (msg.empty()) msg = trim(PQerrorMessage(conn_.get()));
    return Result(std::move(res), msg.empty() ? "query failed" : msg);
  }
  return Result(std::move(res), "");
}

std::string Connection::run(std::string_view sql, const Params& params) {
  auto r = exec(sql, params);
  return r.error();
}

bool Connection::consume_input() {
  return PQconsumeInput(conn_.get()) == 1 && PQstatus(conn_.get()) == CONNECTION_OK;
}

std::optional<Notification> Connection::next_notification() {
  CHandle<PGnotify, PQfreemem> n(PQnotifies(conn_.get()));
  if (!n) return std::nullopt;
  return Notification{n->relname ? n->relname : "", n->extra ? n->extra : "", n->be_pid};
}

std::string Connection::last_error() const { return trim(PQerrorMessage(conn_.get())); }

std::string Connection::quote_identifier(std::string_view name) const {
  CHandle<char, PQfreemem> q(PQescapeIdentifier(conn_.get(), name.data(), name.size()));
  return q ? std::string(q.get()) : std::string();
}

std::string Connection::quote_literal(std::string_view text) const {
  CHandle<char, PQfreemem> q(PQescapeLiteral(conn_.get(), text.data(), text.size()));
  return q ? std::string(q.get()) : std::string();
}

}  // namespace rollcall::pg
