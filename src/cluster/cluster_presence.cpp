#include "cluster/cluster_presence.hpp"
#include "redis/script.hpp"

#include "cluster/presence_lua.hpp"
#include "cluster/stream_outbox.hpp"
#include "common/clock.hpp"
#include "common/encoding.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <future>

namespace rollcall::cluster {

namespace asio = boost::asio;
namespace json = boost::json;
using redis::RedisValue;

namespace {

constexpr std::chrono::milliseconds kRetryMin{100};
constexpr std::chrono::milliseconds kRetryMax{5000};
constexpr std::chrono::seconds kQueryTimeout{2};

std::chrono::milliseconds next_delay(std::chrono::milliseconds d) {
  return d.count() == 0 ? kRetryMin : std::min(d * 2, kRetryMax);
}

std::string orgs_json(const std::vector<OrgRole>& orgs) {
  json::array a;
  for (const auto& o : orgs) a.push_back(json::object{{"id", o.id}, {"role", o.role}});
  return json::serialize(a);
}

std::vector<OrgRole> parse_orgs(std::string_view text) {
  std::vector<OrgRole> out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& o : v.as_array()) {
    if (!o.is_object()) continue;
    OrgRole r;
    if (auto* id = o.as_object().if_contains("id"); id && id->is_string()) r.id = id->as_string();
    if (auto* role = o.as_object().if_contains("role"); role && role->is_string()) r.role = role->as_string();
    out.push_back(std::move(r));
  }
  return out;
}

std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return v;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

ClusterPresence::ClusterPresence(PresenceConfig config, OrgBroadcast broadcast)
    : config_(std::move(config)), broadcast_(std::move(broadcast)) {
  if (config_.node_id.empty()) config_.node_id = random_id().substr(0, 12);
  writes_ = redis::RedisClient::create(ioc_.get_executor(), config_.redis);
  control_ = redis::RedisClient::create(ioc_.get_executor(), config_.redis);
  if (!config_.webhooks.url.empty() || config_.webhooks.discard) {
    // Throws std::invalid_argument for a bad webhook configuration.
    webhooks_ = std::make_unique<ClusterWebhooks>(config_.webhooks, config_.redis, config_.prefix,
                                                  config_.node_id + "/" + random_id().substr(0, 8),
                                                  config_.lease);
    outbox_flag_ = "1";
  }
  health_.ok = false;
  health_.error = "not registered with Redis yet";
}

ClusterPresence::~ClusterPresence() { stop(); }

void ClusterPresence::start() {
  if (running_.exchange(true)) return;
  guard_.emplace(ioc_.get_executor());
  thread_ = std::thread([this] { ioc_.run(); });
  if (webhooks_) webhooks_->start();
  asio::post(ioc_, [this] {
    register_node();
    sweep();
  });
}

void ClusterPresence::stop() {
  if (!running_.exchange(false)) return;
  // Send what the loops queued (the sockets closed by the server's stop),
  // then end the lease, within 2 s.
  std::promise<void> left;
  auto done = left.get_future();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto step = std::make_shared<std::function<void()>>();
  *step = [this, deadline, step, &left] {
    if (!queue_.empty() && !node_key_.empty() && std::chrono::steady_clock::now() < deadline) {
      pump();
      retry_timer_.expires_after(std::chrono::milliseconds(20));
      retry_timer_.async_wait([step](boost::system::error_code) { (*step)(); });
      return;
    }
    if (node_key_.empty()) return left.set_value();
    call(lua::leave(), {node_key_}, [&left](std::error_code, RedisValue) { left.set_value(); });
  };
  asio::post(ioc_, [step] { (*step)(); });
  done.wait_for(std::chrono::seconds(3));
  asio::post(ioc_, [this] {
    retry_timer_.cancel();
    renew_timer_.cancel();
    sweep_timer_.cancel();
    writes_->close();
    control_->close();
    guard_.reset();
    // Nothing is left to wait for (replies of closed connections, timers of
    // a client that is gone): handlers not run yet are dropped.
    ioc_.stop();
  });
  if (thread_.joinable()) thread_.join();
  *step = nullptr;  // it held itself
  if (webhooks_) webhooks_->stop();
}

namespace {

// The SHA1 of each script, computed once (the sources are static strings).
const std::string& sha_of(const std::string& source) {
  static std::mutex mutex;
  static std::unordered_map<const std::string*, std::string> shas;
  std::lock_guard lock(mutex);
  auto& sha = shas[&source];
  if (sha.empty()) sha = redis::sha1_hex(source);
  return sha;
}

bool is_noscript(const RedisValue& v) {
  return v.type == RedisValue::Type::error && v.str.rfind("NOSCRIPT", 0) == 0;
}

}  // namespace

// EVALSHA: the script's source travels once per Redis process (see
// call() and noscript() for an empty script cache).
std::vector<std::string> ClusterPresence::script(const std::string& source,
                                                 std::vector<std::string> args) const {
  std::vector<std::string> argv{"EVALSHA", sha_of(source), "0", config_.prefix};
  for (auto& a : args) argv.push_back(std::move(a));
  return argv;
}

// One script call on the control connection; on NOSCRIPT (Redis restarted,
// SCRIPT FLUSH) sent once more as EVAL, which caches it.
void ClusterPresence::call(const std::string& source, std::vector<std::string> args,
                           redis::RedisClient::Callback cb) {
  auto argv = script(source, args);
  control_->command(std::move(argv), [this, &source, args = std::move(args), cb = std::move(cb)](
                                         std::error_code ec, RedisValue v) mutable {
    if (ec || !is_noscript(v)) return cb(ec, std::move(v));
    auto again = script(source, std::move(args));
    again[0] = "EVAL";
    again[1] = source;
    control_->command(std::move(again), std::move(cb));
  });
}

// --- notices from the loops -------------------------------------------------

void ClusterPresence::socket_connected(Socket& socket) {
  const User* user = socket.user();
  if (!user) return;
  ConnectionInfo info;
  info.socket_id = socket.id();
  info.nsp = socket.nsp();
  info.transport = socket.transport();
  if (auto ua = socket.handshake().headers.get("user-agent")) info.user_agent = std::string(*ua);
  info.address = socket.handshake().address;
  info.since_ms = unix_ms();
  connected(*user, std::move(info));
}

void ClusterPresence::socket_disconnected(Socket& socket) {
  if (const User* user = socket.user()) disconnected(user->id, socket.id());
}

void ClusterPresence::connected(const User& user, ConnectionInfo info) {
  Notice n;
  n.connect = true;
  n.user = user.id;
  n.socket_id = info.socket_id;
  n.name = user.name;
  n.orgs_json = orgs_json(user.orgs);
  json::object c{{"socket", info.socket_id}, {"nsp", info.nsp},        {"transport", info.transport},
                 {"userAgent", info.user_agent}, {"address", info.address}, {"since", info.since_ms}};
  n.info_json = json::serialize(c);  // the node is added on the presence thread
  n.event_id = "evt_" + random_id();
  enqueue(std::move(n));
}

void ClusterPresence::disconnected(const std::string& user, const std::string& socket_id) {
  Notice n;
  n.connect = false;
  n.user = user;
  n.socket_id = socket_id;
  enqueue(std::move(n));
}

void ClusterPresence::enqueue(Notice n) {
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(n));
    post = !inbox_posted_;
    inbox_posted_ = true;
  }
  if (!post) return;
  asio::post(ioc_, [this] {
    std::vector<Notice> batch;
    {
      std::lock_guard lock(inbox_mutex_);
      batch.swap(inbox_);
      inbox_posted_ = false;
    }
    for (auto& n : batch) {
      if (queue_.size() >= kMaxQueued && queue_.size() > in_flight_) {
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_));
        std::lock_guard lock(health_mutex_);
        ++health_.lost;
        if (health_.lost == 1 || health_.lost % 10000 == 0) {
          spdlog::error("cluster presence: {} connect/disconnect notices dropped: Redis has been "
                        "unreachable for too long (more than {} waiting)",
                        health_.lost, kMaxQueued);
        }
      }
      queue_.push_back(std::move(n));
    }
    pump();
  });
}

// --- sending them -------------------------------------------------------------

void ClusterPresence::pump() {
  if (node_key_.empty() || failing_) return;
  while (in_flight_ < queue_.size() && in_flight_ < kMaxInFlight) send(queue_[in_flight_++]);
  std::lock_guard lock(health_mutex_);
  health_.unstored = queue_.size();
}

void ClusterPresence::send(const Notice& n) {
  std::vector<std::string> argv;
  if (n.connect) {
    // The connection as queries show it: with this node.
    std::string info = n.info_json;
    info.insert(info.size() - 1, ",\"node\":" + json::serialize(json::value(config_.node_id)));
    if (n.restore) {
      argv = script(lua::restore(), {node_key_, n.user, n.socket_id, std::move(info), n.name,
                                     n.orgs_json, std::to_string(floor_)});
    } else {
      argv = script(lua::connect(), {node_key_, n.user, n.socket_id, std::move(info), n.name,
                                     n.orgs_json, std::to_string(floor_), n.event_id, outbox_flag_});
    }
  } else {
    argv = script(lua::disconnect(), {node_key_, n.user, n.socket_id,
                                      std::to_string(config_.grace.count())});
  }
  writes_->command(std::move(argv), [this, key = node_key_, flight = flight_, connect = n.connect](
                                        std::error_code ec, RedisValue v) {
    if (key != node_key_ || flight != flight_) return;  // sent before a fence or a NOSCRIPT
    if (!ec && is_noscript(v)) return noscript();
    reply(ec, v, connect);
  });
}

// Redis lost its script cache (a restart, a failover, SCRIPT FLUSH) while
// notices were in flight: some of the later ones may have run. Loading the
// scripts and sending everything again from the first unanswered notice,
// in order, on the same connection, gives the same end state (the scripts
// are idempotent when replayed in order); the replies still coming for
// this flight are ignored.
void ClusterPresence::noscript() {
  ++flight_;
  in_flight_ = 0;
  spdlog::info("cluster presence: Redis has no cached scripts (restarted?); loading them");
  for (const auto* source : {&lua::connect(), &lua::restore(), &lua::disconnect()}) {
    writes_->command({"SCRIPT", "LOAD", *source}, [](std::error_code, RedisValue) {});
  }
  pump();
}

void ClusterPresence::reply(std::error_code ec, const RedisValue& v, bool connect) {
  --in_flight_;
  if (ec) {
    failed(ec.message());
    if (in_flight_ == 0) {
      retry_delay_ = next_delay(retry_delay_);
      retry_timer_.expires_after(retry_delay_);
      retry_timer_.async_wait([this](boost::system::error_code e) {
        if (e) return;
        failing_ = false;
        pump();
      });
    }
    failing_ = true;
    return;
  }
  if (v.type != RedisValue::Type::error && !v.elements.empty() && v.elements[0].str == "fenced") {
    return fenced();  // the notice stays queued
  }
  Notice n = std::move(queue_.front());
  queue_.pop_front();
  retry_delay_ = {};
  if (v.type == RedisValue::Type::error || v.elements.empty()) {
    // A script error is a bug, not a state to retry forever.
    spdlog::error("cluster presence: {} of user {} failed in Redis: {}", connect ? "connect" : "disconnect",
                  n.user, v.str);
    return pump();
  }
  {
    std::lock_guard lock(health_mutex_);
    health_.ok = true;
    health_.error.clear();
    health_.unstored = queue_.size();
  }
  if (!connect) {
    confirmed_.erase(n.socket_id);
  } else if (!n.restore) {
    n.restore = true;  // what it is from now on, if Redis ever loses it
    confirmed_.insert_or_assign(n.socket_id, n);
  }
  if (connect && v.elements.size() >= 5) {
    PresenceEvent e;
    e.id = n.event_id;
    e.type = "user.online";
    e.user = n.user;
    e.seq = static_cast<std::uint64_t>(to_i64(v.elements[2].str));
    e.at_ms = to_i64(v.elements[3].str);
    e.connections = static_cast<std::uint32_t>(to_i64(v.elements[4].str));
    e.orgs = parse_orgs(n.orgs_json);
    floor_ = std::max(floor_, e.seq);
    announce(e, n.orgs_json, true);
  }
  pump();
}

void ClusterPresence::failed(const std::string& why) const {
  std::lock_guard lock(health_mutex_);
  if (health_.ok || health_.failing_since_ms == 0) {
    health_.failing_since_ms = unix_ms();
    spdlog::warn("cluster presence: Redis unreachable ({}); connects and disconnects wait in order", why);
  }
  health_.ok = false;
  health_.error = why;
}

// --- the node's lease -----------------------------------------------------------

void ClusterPresence::register_node() {
  if (registering_ || !running_) return;
  registering_ = true;
  json::object details{{"node", config_.node_id}, {"pid", static_cast<std::int64_t>(::getpid())},
                       {"address", config_.address}};
  call(lua::register_node(),
       {config_.node_id, std::to_string(config_.lease.count()), json::serialize(details), random_id()},
      [this](std::error_code ec, RedisValue v) {
        registering_ = false;
        if (ec || v.type == RedisValue::Type::error || v.elements.size() < 4) {
          failed(ec ? ec.message() : v.str);
          retry_delay_ = next_delay(retry_delay_);
          renew_timer_.expires_after(retry_delay_);
          renew_timer_.async_wait([this](boost::system::error_code e) {
            if (!e) register_node();
          });
          return;
        }
        bool again = !node_key_.empty() || fenced_before_;
        node_key_ = v.elements[0].str;
        gen_ = v.elements[3].str;
        if (restoring_) {
          // Redis lost its data: first put back every connection it had
          // confirmed, then send what was waiting, in order.
          std::deque<Notice> queue;
          for (auto& [sid, n] : confirmed_) queue.push_back(n);
          spdlog::warn("cluster presence: Redis lost the cluster's state; node {} puts back its {} "
                       "connection(s) without events", node_key_, queue.size());
          for (auto& n : queue_) queue.push_back(std::move(n));
          queue_ = std::move(queue);
          in_flight_ = 0;
          failing_ = false;
          restoring_ = false;
          again = false;  // its clients stay connected
        }
        retry_delay_ = {};
        healthy_since_ = std::chrono::steady_clock::now();
        {
          std::lock_guard lock(health_mutex_);
          health_.ok = true;
          health_.error.clear();
          health_.failing_since_ms = 0;
        }
        spdlog::info("cluster presence: node {} registered (lease {} ms)", node_key_, config_.lease.count());
        renew_timer_.expires_after(config_.lease / 3);
        renew_timer_.async_wait([this](boost::system::error_code e) {
          if (!e) renew();
        });
        if (again && on_fenced_) on_fenced_();
        fenced_before_ = false;
        pump();
      });
}

void ClusterPresence::renew() {
  if (node_key_.empty() || !running_) return;
  call(lua::renew(), {node_key_, std::to_string(config_.lease.count())},
                    [this](std::error_code ec, RedisValue v) {
                      if (!ec && !v.elements.empty() && v.elements[0].str == "fenced") return fenced();
                      if (ec || v.type == RedisValue::Type::error) {
                        failed(ec ? ec.message() : v.str);
                        healthy_since_ = {};
                      } else if (healthy_since_ == std::chrono::steady_clock::time_point{}) {
                        healthy_since_ = std::chrono::steady_clock::now();
                      }
                      renew_timer_.expires_after(config_.lease / 3);
                      renew_timer_.async_wait([this](boost::system::error_code e) {
                        if (!e) renew();
                      });
                    });
}

void ClusterPresence::fenced() {
  if (node_key_.empty()) return;  // already being handled
  // Nothing more is sent under this key, and the replies to what was are
  // ignored; the queue keeps every notice not answered yet.
  std::string key = std::move(node_key_);
  node_key_.clear();
  in_flight_ = 0;
  failing_ = false;
  renew_timer_.cancel();
  check_generation(std::move(key));
}

// Reaped by the cluster, or did Redis lose everything (a restart without
// persistence, a failover to a replica that missed writes)? The generation
// tells: it is missing or new after a loss.
void ClusterPresence::check_generation(std::string key) {
  control_->command({"GET", config_.prefix + ":gen"}, [this, key](std::error_code ec, RedisValue v) {
    if (!running_) return;
    if (ec || v.type == RedisValue::Type::error) {
      renew_timer_.expires_after(std::max(config_.lease / 10, std::chrono::milliseconds(10)));
      renew_timer_.async_wait([this, key](boost::system::error_code e) {
        if (!e) check_generation(key);
      });
      return;
    }
    if (v.type == RedisValue::Type::string && v.str == gen_) return fence(key);
    lost(key);
  });
}

void ClusterPresence::lost(const std::string& key) {
  spdlog::warn("cluster presence: node {} finds the cluster's state gone from Redis (generation "
               "{} missing or replaced); it registers again and puts its connections back",
               key, gen_);
  restoring_ = true;
  healthy_since_ = {};
  register_node();
}

void ClusterPresence::fence(const std::string& key) {
  spdlog::warn("cluster presence: node {} was declared dead by the cluster (frozen or cut off for "
               "more than the {} ms lease); its clients are closed and it joins again as a new node",
               key, config_.lease.count());
  fenced_before_ = true;
  // What was queued belongs to sockets that are closed now.
  queue_.clear();
  confirmed_.clear();
  register_node();
}

void ClusterPresence::sweep() {
  if (!running_) return;
  auto again = [this](std::chrono::milliseconds after) {
    sweep_timer_.expires_after(after);
    sweep_timer_.async_wait([this](boost::system::error_code e) {
      if (!e) sweep();
    });
  };
  auto interval = std::clamp(config_.lease / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
  // After Redis was unreachable, wait one lease before reaping: the other
  // nodes, cut off too, get the time to renew theirs.
  bool settled = healthy_since_ != std::chrono::steady_clock::time_point{} &&
                 std::chrono::steady_clock::now() - healthy_since_ >= config_.lease;
  if (node_key_.empty() || !settled) return again(interval);
  call(lua::sweep(), {node_key_, std::to_string(config_.grace.count()), std::to_string(floor_),
                       "evt_" + random_id(), "100", "1000", outbox_flag_},
      [this, again, interval](std::error_code ec, RedisValue v) {
        if (ec || v.type == RedisValue::Type::error || v.elements.size() < 3) {
          if (ec) failed(ec.message());
          else spdlog::error("cluster presence: sweep failed in Redis: {}", v.str);
          return again(interval);
        }
        if (v.elements[0].str == "fenced") {
          fenced();
          return again(interval);
        }
        if (auto reaped = v.elements[2].integer; reaped > 0) {
          spdlog::info("cluster presence: {} dead node(s) reaped", reaped);
        }
        for (std::size_t i = 3; i + 4 < v.elements.size(); i += 5) {
          PresenceEvent e;
          e.id = v.elements[i + 4].str;
          e.type = "user.offline";
          e.user = v.elements[i].str;
          e.seq = static_cast<std::uint64_t>(to_i64(v.elements[i + 1].str));
          e.at_ms = to_i64(v.elements[i + 2].str);
          e.orgs = parse_orgs(v.elements[i + 3].str);
          floor_ = std::max(floor_, e.seq);
          announce(e, v.elements[i + 3].str, false);
        }
        again(v.elements[1].integer ? std::chrono::milliseconds(0) : interval);
      });
}

void ClusterPresence::announce(const PresenceEvent& e, const std::string&, bool online) {
  if (webhooks_) webhooks_->notify();
  log_.record(e);
  const char* status = online ? "online" : "offline";
  for (const auto& org : e.orgs) broadcast_(org.id, e.user, status);
  for (const auto& cb : online ? online_callbacks_ : offline_callbacks_) {
    try {
      cb(e);
    } catch (const std::exception& ex) {
      spdlog::error("cluster presence: {} callback threw: {}", e.type, ex.what());
    }
  }
}

// --- queries ------------------------------------------------------------------------

std::optional<std::vector<RedisValue>> ClusterPresence::query(
    std::vector<std::vector<std::string>> commands) const {
  if (!running_ || std::this_thread::get_id() == thread_.get_id()) return std::nullopt;
  struct State {
    std::mutex mutex;
    std::vector<RedisValue> replies;
    std::size_t left;
    bool failed = false;
    std::promise<void> done;
  };
  auto st = std::make_shared<State>();
  st->replies.resize(commands.size());
  st->left = commands.size();
  auto future = st->done.get_future();
  if (commands.empty()) return std::vector<RedisValue>{};
  asio::post(const_cast<asio::io_context&>(ioc_), [this, st, commands = std::move(commands)]() mutable {
    for (std::size_t i = 0; i < commands.size(); ++i) {
      control_->command(std::move(commands[i]), [st, i](std::error_code ec, RedisValue v) {
        std::lock_guard lock(st->mutex);
        if (ec || v.type == RedisValue::Type::error) st->failed = true;
        st->replies[i] = std::move(v);
        if (--st->left == 0) st->done.set_value();
      });
    }
  });
  if (future.wait_for(kQueryTimeout) != std::future_status::ready) {
    failed("a presence query got no answer from Redis within 2 s");
    return std::nullopt;
  }
  std::lock_guard lock(st->mutex);
  if (st->failed) {
    failed("a presence query failed in Redis");
    return std::nullopt;
  }
  return std::move(st->replies);
}

std::optional<UserPresence> ClusterPresence::parse_user(const std::string& user, const RedisValue& hash) const {
  if (hash.elements.empty()) return std::nullopt;
  UserPresence p;
  p.user = user;
  for (std::size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
    const std::string& f = hash.elements[i].str;
    const std::string& val = hash.elements[i + 1].str;
    if (f == "!online") p.online = val == "1";
    else if (f == "!seq") p.seq = static_cast<std::uint64_t>(to_i64(val));
    else if (f == "!since") p.since_ms = to_i64(val);
    else if (f == "!name") p.name = val;
    else if (f == "!orgs") p.orgs = parse_orgs(val);
    else if (f.starts_with("c:")) {
      boost::system::error_code ec;
      auto v = json::parse(val, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      auto text = [&o](const char* k) {
        auto* x = o.if_contains(k);
        return x && x->is_string() ? std::string(x->as_string()) : std::string();
      };
      ConnectionInfo c;
      c.socket_id = text("socket");
      c.nsp = text("nsp");
      c.transport = text("transport");
      c.user_agent = text("userAgent");
      c.address = text("address");
      c.node = text("node");
      if (auto* s = o.if_contains("since"); s && s->is_int64()) c.since_ms = s->as_int64();
      p.connections.push_back(std::move(c));
    }
  }
  if (!p.online) return std::nullopt;
  std::sort(p.connections.begin(), p.connections.end(),
            [](const ConnectionInfo& a, const ConnectionInfo& b) { return a.since_ms < b.since_ms; });
  return p;
}

bool ClusterPresence::is_online(const std::string& user) const {
  auto r = query({{"HGET", config_.prefix + ":u:" + user, "!online"}});
  return r && (*r)[0].str == "1";
}

std::optional<UserPresence> ClusterPresence::get(const std::string& user) const {
  auto r = query({{"HGETALL", config_.prefix + ":u:" + user}});
  if (!r) return std::nullopt;
  return parse_user(user, (*r)[0]);
}

std::vector<UserPresence> ClusterPresence::online_in_org(const std::string& org) const {
  auto members = query({{"SMEMBERS", config_.prefix + ":org:" + org}});
  if (!members) return {};
  std::vector<std::vector<std::string>> reads;
  std::vector<std::string> users;
  for (const auto& m : (*members)[0].elements) {
    users.push_back(m.str);
    reads.push_back({"HGETALL", config_.prefix + ":u:" + m.str});
  }
  auto hashes = query(std::move(reads));
  std::vector<UserPresence> out;
  if (!hashes) return out;
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (auto p = parse_user(users[i], (*hashes)[i])) out.push_back(std::move(*p));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.user < b.user; });
  return out;
}

void ClusterPresence::online_in_org_async(const std::string& org, OrgCallback cb) const {
  if (!running_) return cb(std::nullopt);
  auto& ioc = const_cast<asio::io_context&>(ioc_);
  asio::post(ioc, [this, org, cb = std::move(cb)]() mutable {
    // Two round trips on the control connection, each with its command
    // timeout: the members, then their hashes in one pipeline.
    control_->command({"SMEMBERS", config_.prefix + ":org:" + org}, [this, cb = std::move(cb)](
                                                                          std::error_code ec,
                                                                          RedisValue members) mutable {
      if (ec || members.type == RedisValue::Type::error) {
        failed(ec ? ec.message() : members.str);
        return cb(std::nullopt);
      }
      if (members.elements.empty()) return cb(std::vector<UserPresence>{});
      struct Gather {
        std::vector<std::string> users;
        std::vector<RedisValue> hashes;
        std::size_t left = 0;
        bool failed = false;
        OrgCallback cb;
      };
      auto g = std::make_shared<Gather>();
      g->cb = std::move(cb);
      for (auto& m : members.elements) g->users.push_back(std::move(m.str));
      g->hashes.resize(g->users.size());
      g->left = g->users.size();
      for (std::size_t i = 0; i < g->users.size(); ++i) {
        control_->command({"HGETALL", config_.prefix + ":u:" + g->users[i]},
                          [this, g, i](std::error_code e, RedisValue h) {
                            if (e || h.type == RedisValue::Type::error) g->failed = true;
                            g->hashes[i] = std::move(h);
                            if (--g->left > 0) return;
                            if (g->failed) {
                              failed("a presence query failed in Redis");
                              return g->cb(std::nullopt);
                            }
                            std::vector<UserPresence> out;
                            for (std::size_t k = 0; k < g->users.size(); ++k) {
                              if (auto p = parse_user(g->users[k], g->hashes[k])) out.push_back(std::move(*p));
                            }
                            std::sort(out.begin(), out.end(),
                                      [](const auto& a, const auto& b) { return a.user < b.user; });
                            g->cb(std::move(out));
                          });
      }
    });
  });
}

std::size_t ClusterPresence::online_count() const {
  auto r = query({{"SCARD", config_.prefix + ":online"}});
  return r ? static_cast<std::size_t>((*r)[0].integer) : 0;
}

PresenceStoreHealth ClusterPresence::store_health() const {
  std::lock_guard lock(health_mutex_);
  return health_;
}

std::vector<DeadLetter> ClusterPresence::dead_letters(std::size_t max) const {
  auto r = query({{"XREVRANGE", config_.prefix + ":outbox:dead", "+", "-", "COUNT", std::to_string(max)}});
  std::vector<DeadLetter> out;
  if (!r) return out;
  for (const auto& v : (*r)[0].elements) {
    auto d = dead_letter_of(v);
    if (!d) continue;
    out.push_back(DeadLetter{d->event.id, d->event.type, d->event.user, d->event.seq, d->event.at_ms,
                             d->event.connections, d->event.attempts, d->dead_ms, d->reason});
  }
  return out;
}

}  // namespace rollcall::cluster

namespace rollcall::cluster {

std::optional<OnlinePage> ClusterPresence::list_online(const std::string& cursor, std::size_t limit) const {
  auto scan = query({{"SSCAN", config_.prefix + ":online", cursor.empty() ? "0" : cursor, "COUNT",
                      std::to_string(limit)}});
  if (!scan || (*scan)[0].elements.size() != 2) return std::nullopt;
  OnlinePage page;
  const auto& next = (*scan)[0].elements[0].str;
  if (next != "0") page.next = next;
  std::vector<std::string> users;
  std::vector<std::vector<std::string>> reads;
  for (const auto& m : (*scan)[0].elements[1].elements) {
    users.push_back(m.str);
    reads.push_back({"HGETALL", config_.prefix + ":u:" + m.str});
  }
  auto hashes = query(std::move(reads));
  if (!hashes) return std::nullopt;
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (auto p = parse_user(users[i], (*hashes)[i])) page.users.push_back(std::move(*p));
  }
  std::sort(page.users.begin(), page.users.end(), [](const auto& a, const auto& b) { return a.user < b.user; });
  return page;
}

std::optional<std::vector<NodeInfo>> ClusterPresence::nodes() const {
  auto r = query({{"TIME"}, {"ZRANGE", config_.prefix + ":nodes", "0", "-1", "WITHSCORES"}});
  if (!r || (*r)[0].elements.size() != 2) return std::nullopt;
  const auto now_ms = to_i64((*r)[0].elements[0].str) * 1000 + to_i64((*r)[0].elements[1].str) / 1000;
  std::vector<NodeInfo> out;
  std::vector<std::vector<std::string>> reads;
  const auto& z = (*r)[1].elements;
  for (std::size_t i = 0; i + 1 < z.size(); i += 2) {
    const auto& key = z[i].str;
    NodeInfo n;
    n.id = key.substr(0, key.rfind('#'));
    n.lease_age_ms = std::max<std::int64_t>(0, now_ms - (to_i64(z[i + 1].str) - config_.lease.count()));
    n.self = n.id == config_.node_id;
    out.push_back(std::move(n));
    reads.push_back({"HGET", config_.prefix + ":node:" + key, "details"});
    reads.push_back({"SCARD", config_.prefix + ":nc:" + key});
  }
  auto details = query(std::move(reads));
  if (!details) return std::nullopt;
  for (std::size_t i = 0; i < out.size(); ++i) {
    boost::system::error_code ec;
    auto v = json::parse((*details)[2 * i].str, ec);
    if (!ec && v.is_object()) {
      if (auto* a = v.as_object().if_contains("address"); a && a->is_string()) out[i].address = a->as_string();
    }
    out[i].connections = static_cast<std::uint64_t>((*details)[2 * i + 1].integer);
  }
  return out;
}

std::optional<std::uint64_t> ClusterPresence::connection_total() const {
  auto n = nodes();
  if (!n) return std::nullopt;
  std::uint64_t total = 0;
  for (const auto& node : *n) total += node.connections;
  return total;
}

std::optional<WebhookQueue> ClusterPresence::webhook_queue() const {
  const auto& P = config_.prefix;
  auto r = query({{"XLEN", P + ":outbox"},
                  {"HLEN", P + ":outbox:attempts"},
                  {"XLEN", P + ":outbox:dead"},
                  {"XRANGE", P + ":outbox", "-", "+", "COUNT", "1"}});
  if (!r) return std::nullopt;
  WebhookQueue q;
  q.enabled = webhooks_ != nullptr;
  q.pending = static_cast<std::uint64_t>((*r)[0].integer);
  q.retrying = static_cast<std::uint64_t>((*r)[1].integer);
  q.dead = static_cast<std::uint64_t>((*r)[2].integer);
  if (!(*r)[3].elements.empty()) {
    // An outbox entry has the fields of a dead letter but its last three.
    if (auto d = dead_letter_of((*r)[3].elements[0])) {
      q.oldest = DeadLetter{d->event.id, d->event.type, d->event.user, d->event.seq, d->event.at_ms,
                            d->event.connections, 0, 0, {}};
    }
  }
  return q;
}

std::optional<std::size_t> ClusterPresence::retry_dead_letters() {
  auto r = query({{"EVAL", std::string(requeue_dead_script()), "0", config_.prefix}});
  if (!r) return std::nullopt;
  if (webhooks_) webhooks_->notify();
  return static_cast<std::size_t>((*r)[0].integer);
}

std::vector<PresenceEvent> ClusterPresence::recent_transitions(std::size_t max) const {
  return log_.newest(max);
}

PresenceMetrics ClusterPresence::metrics() const {
  if (!webhooks_) return log_.metrics(nullptr);
  const auto stats = webhooks_->stats();
  return log_.metrics(&stats);
}

}  // namespace rollcall::cluster
