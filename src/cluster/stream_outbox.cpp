#include "cluster/stream_outbox.hpp"

#include "common/clock.hpp"
#include "redis/script.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace rollcall::cluster {

namespace asio = boost::asio;
using redis::RedisValue;

namespace {

// ARGV: prefix, owner, lease_ms -> 1 when the caller leads (now or still).
const redis::Script& lead_script() {
  static const redis::Script s(R"lua(
local k = ARGV[1] .. ':outbox:leader'
local cur = redis.call('GET', k)
if cur == false or cur == ARGV[2] then
  redis.call('SET', k, ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
)lua");
  return s;
}

// ARGV: prefix, owner -> gives leadership up if the caller holds it.
const redis::Script& release_script() {
  static const redis::Script s(R"lua(
local k = ARGV[1] .. ':outbox:leader'
if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k) end
return 1
)lua");
  return s;
}

// ARGV: prefix, owner, ids... -> 1 when they were removed (the caller leads).
const redis::Script& delivered_script() {
  static const redis::Script s(R"lua(
local P = ARGV[1]
if redis.call('GET', P .. ':outbox:leader') ~= ARGV[2] then return 0 end
for i = 3, #ARGV do
  redis.call('XDEL', P .. ':outbox', ARGV[i])
  redis.call('HDEL', P .. ':outbox:attempts', ARGV[i])
end
if redis.call('XLEN', P .. ':outbox') == 0 then redis.call('DEL', P .. ':outbox') end
return 1
)lua");
  return s;
}

// ARGV: prefix, owner, reason, now_ms, ids... -> 1 when they were moved.
const redis::Script& dead_script() {
  static const redis::Script s(R"lua(
local P = ARGV[1]
if redis.call('GET', P .. ':outbox:leader') ~= ARGV[2] then return 0 end
for i = 5, #ARGV do
  local id = ARGV[i]
  local e = redis.call('XRANGE', P .. ':outbox', id, id)
  if #e == 1 then
    local f = e[1][2]
    local n = redis.call('HGET', P .. ':outbox:attempts', id) or '0'
    for _, x in ipairs({'attempts', n, 'dead', ARGV[4], 'reason', ARGV[3]}) do table.insert(f, x) end
    redis.call('XADD', P .. ':outbox:dead', 'MAXLEN', '~', '1000', '*', unpack(f))
    redis.call('XDEL', P .. ':outbox', id)
  end
  redis.call('HDEL', P .. ':outbox:attempts', id)
end
if redis.call('XLEN', P .. ':outbox') == 0 then redis.call('DEL', P .. ':outbox') end
return 1
)lua");
  return s;
}

std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A stream entry [id, [field, value, ...]] as a field lookup.
struct Entry {
  std::string id;
  std::unordered_map<std::string, std::string> fields;
};
std::optional<Entry> entry_of(const RedisValue& v) {
  if (v.elements.size() != 2) return std::nullopt;
  Entry e;
  e.id = v.elements[0].str;
  const auto& f = v.elements[1].elements;
  for (std::size_t i = 0; i + 1 < f.size(); i += 2) e.fields[f[i].str] = f[i + 1].str;
  return e;
}

}  // namespace

// --- StreamOutbox ---------------------------------------------------------------

StreamOutbox::StreamOutbox(redis::RedisConfig redis, std::string prefix, std::string owner,
                           std::chrono::milliseconds lease)
    : client_(redis::RedisClient::create(ioc_.get_executor(), std::move(redis))),
      prefix_(std::move(prefix)),
      owner_(std::move(owner)),
      lease_(lease) {}

StreamOutbox::~StreamOutbox() { client_->close(); }

std::optional<std::vector<RedisValue>> StreamOutbox::run(std::vector<std::vector<std::string>> commands,
                                                         const char* what) {
  struct State {
    std::vector<RedisValue> replies;
    std::size_t left = 0;
    std::string error;
  };
  auto st = std::make_shared<State>();
  st->replies.resize(commands.size());
  st->left = commands.size();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto done = [st, i](std::error_code ec, RedisValue v) {
      if (ec && st->error.empty()) st->error = ec.message();
      if (!ec && v.type == RedisValue::Type::error && st->error.empty()) st->error = v.str;
      st->replies[i] = std::move(v);
      --st->left;
    };
    auto& c = commands[i];
    if (c.size() >= 2 && c[0] == "@script") {
      // {"@script", <which>, args...}: a script of this file by EVALSHA
      const redis::Script* s = c[1] == "lead"       ? &lead_script()
                               : c[1] == "release"  ? &release_script()
                               : c[1] == "delivered" ? &delivered_script()
                                                     : &dead_script();
      s->run(*client_, {}, std::vector<std::string>(c.begin() + 2, c.end()), std::move(done));
    } else {
      client_->command(std::move(c), std::move(done));
    }
  }
  // The client's own command timeout ends every command; this is a backstop.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (st->left > 0 && std::chrono::steady_clock::now() < deadline) {
    if (ioc_.stopped()) ioc_.restart();
    ioc_.run_one_until(deadline);
  }
  if (st->left > 0) st->error = "no reply in time";
  if (!st->error.empty()) {
    spdlog::warn("webhook outbox: {} failed in Redis: {}", what, st->error);
    return std::nullopt;
  }
  return std::move(st->replies);
}

void StreamOutbox::lead(const RedisValue& reply) {
  bool lead = reply.type == RedisValue::Type::integer && reply.integer == 1;
  if (lead != leader_) {
    spdlog::info("webhook outbox: this node {} delivering the cluster's webhooks", lead ? "is now" : "stops");
    leader_ = lead;
  }
}

bool StreamOutbox::renew() {
  auto r = run({{"@script", "lead", prefix_, owner_, std::to_string(lease_.count())}}, "taking the lead");
  if (r) lead((*r)[0]);
  return leader_;
}

std::vector<hooks::OutboxEvent> StreamOutbox::pending(std::size_t max) {
  auto r = run({{"@script", "lead", prefix_, owner_, std::to_string(lease_.count())},
                {"XRANGE", prefix_ + ":outbox", "-", "+", "COUNT", std::to_string(max)}},
               "reading the outbox");
  if (!r) return {};
  lead((*r)[0]);
  if (!leader_) return {};
  std::vector<Entry> entries;
  for (const auto& v : (*r)[1].elements) {
    if (auto e = entry_of(v)) entries.push_back(std::move(*e));
  }
  if (entries.empty()) return {};
  std::vector<std::string> hmget{"HMGET", prefix_ + ":outbox:attempts"};
  for (const auto& e : entries) hmget.push_back(e.id);
  auto attempts = run({std::move(hmget)}, "reading attempt counts");
  std::vector<hooks::OutboxEvent> out;
  ids_.clear();  // the sender asks again only after settling the last batch
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& f = entries[i].fields;
    hooks::OutboxEvent e;
    e.rowid = next_rowid_++;
    e.id = f["id"];
    e.type = f["type"];
    e.user = f["user"];
    e.seq = static_cast<std::uint64_t>(to_i64(f["seq"]));
    e.at_ms = to_i64(f["at"]);
    e.connections = static_cast<std::uint32_t>(to_i64(f["connections"]));
    e.created_ms = to_i64(entries[i].id);  // "<ms>-<n>": the ms part
    if (attempts && i < (*attempts)[0].elements.size()) {
      e.attempts = static_cast<std::uint32_t>(to_i64((*attempts)[0].elements[i].str));
    }
    ids_[e.rowid] = entries[i].id;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> StreamOutbox::ids_of(const std::vector<std::int64_t>& rowids) const {
  std::vector<std::string> ids;
  for (auto r : rowids) {
    if (auto it = ids_.find(r); it != ids_.end()) ids.push_back(it->second);
  }
  return ids;
}

void StreamOutbox::delivered(const std::vector<std::int64_t>& rowids) {
  std::vector<std::string> cmd{"@script", "delivered", prefix_, owner_};
  for (auto& id : ids_of(rowids)) cmd.push_back(std::move(id));
  auto r = run({std::move(cmd)}, "removing delivered events");
  if (r && (*r)[0].integer != 1) {
    spdlog::warn("webhook outbox: lost the lead while delivering; the new leader sends that batch again");
    leader_ = false;
  }
}

void StreamOutbox::attempted(const std::vector<std::int64_t>& rowids) {
  std::vector<std::vector<std::string>> cmds;
  for (auto& id : ids_of(rowids)) cmds.push_back({"HINCRBY", prefix_ + ":outbox:attempts", id, "1"});
  if (!cmds.empty()) run(std::move(cmds), "counting a failed attempt");
}

void StreamOutbox::dead_letter(const std::vector<std::int64_t>& rowids, const std::string& reason) {
  std::vector<std::string> cmd{"@script", "dead", prefix_, owner_, reason, std::to_string(unix_ms())};
  for (auto& id : ids_of(rowids)) cmd.push_back(std::move(id));
  run({std::move(cmd)}, "moving events to the dead letter");
}

std::vector<hooks::DeadLetter> StreamOutbox::dead(std::size_t max) {
  auto r = run({{"XREVRANGE", prefix_ + ":outbox:dead", "+", "-", "COUNT", std::to_string(max)}},
               "reading the dead letter");
  std::vector<hooks::DeadLetter> out;
  if (!r) return out;
  for (const auto& v : (*r)[0].elements) {
    if (auto d = dead_letter_of(v)) out.push_back(std::move(*d));
  }
  return out;
}

const char* requeue_dead_script() {
  return R"lua(
local P = ARGV[1]
local dead = redis.call('XRANGE', P .. ':outbox:dead', '-', '+')
for _, e in ipairs(dead) do
  local f, out = e[2], {}
  for i = 1, #f, 2 do
    if f[i] ~= 'attempts' and f[i] ~= 'dead' and f[i] ~= 'reason' then
      table.insert(out, f[i])
      table.insert(out, f[i + 1])
    end
  end
  redis.call('XADD', P .. ':outbox', '*', unpack(out))
end
redis.call('DEL', P .. ':outbox:dead')
return #dead
)lua";
}

hooks::OutboxCounts StreamOutbox::counts() {
  hooks::OutboxCounts c;
  auto r = run({{"XLEN", prefix_ + ":outbox"}, {"HLEN", prefix_ + ":outbox:attempts"},
                {"XLEN", prefix_ + ":outbox:dead"}},
               "counting the outbox");
  if (!r) return c;
  c.pending = static_cast<std::uint64_t>((*r)[0].integer);
  c.retrying = static_cast<std::uint64_t>((*r)[1].integer);
  c.dead = static_cast<std::uint64_t>((*r)[2].integer);
  return c;
}

std::size_t StreamOutbox::requeue_dead() {
  auto r = run({{"EVAL", requeue_dead_script(), "0", prefix_}}, "moving dead letters back");
  return r ? static_cast<std::size_t>((*r)[0].integer) : 0;
}

std::optional<hooks::DeadLetter> dead_letter_of(const RedisValue& entry) {
  auto e = entry_of(entry);
  if (!e) return std::nullopt;
  auto& f = e->fields;
  hooks::DeadLetter d;
  d.event.id = f["id"];
  d.event.type = f["type"];
  d.event.user = f["user"];
  d.event.seq = static_cast<std::uint64_t>(to_i64(f["seq"]));
  d.event.at_ms = to_i64(f["at"]);
  d.event.connections = static_cast<std::uint32_t>(to_i64(f["connections"]));
  d.event.attempts = static_cast<std::uint32_t>(to_i64(f["attempts"]));
  d.dead_ms = to_i64(f["dead"]);
  d.reason = f["reason"];
  return d;
}

void StreamOutbox::release() {
  if (!leader_) return;
  run({{"@script", "release", prefix_, owner_}}, "giving the lead up");
  leader_ = false;
}

// --- ClusterWebhooks --------------------------------------------------------------

ClusterWebhooks::ClusterWebhooks(WebhookOptions options, redis::RedisConfig redis, std::string prefix,
                                 std::string owner, std::chrono::milliseconds lease)
    : outbox_(std::move(redis), std::move(prefix), std::move(owner), lease),
      poll_(std::clamp(lease / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(250))) {
  std::string error;
  sender_ = hooks::WebhookSender::create(ioc_.get_executor(), std::move(options), outbox_, error);
  if (!sender_) throw std::invalid_argument("webhooks: " + error);
}

ClusterWebhooks::~ClusterWebhooks() { stop(); }

void ClusterWebhooks::start() {
  if (running_) return;
  running_ = true;
  guard_.emplace(ioc_.get_executor());
  thread_ = std::thread([this] { ioc_.run(); });
  asio::post(ioc_, [this] { tick(); });
}

void ClusterWebhooks::tick() {
  // The lead is renewed here, whatever the sender is doing (a request may
  // take longer than the lease), and the sender looks at the stream.
  if (outbox_.renew()) sender_->notify();
  timer_.expires_after(poll_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void ClusterWebhooks::notify() {
  if (running_) sender_->notify();
}

void ClusterWebhooks::stop() {
  if (!running_) return;
  running_ = false;
  asio::post(ioc_, [this] {
    timer_.cancel();
    sender_->stop();
    outbox_.release();
    guard_.reset();
    ioc_.stop();
  });
  if (thread_.joinable()) thread_.join();
}

}  // namespace rollcall::cluster
