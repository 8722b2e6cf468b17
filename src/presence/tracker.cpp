#include "presence/tracker.hpp"
#include "common/clock.hpp"

#include "common/encoding.hpp"
#include "hooks/webhook_sender.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>

namespace rollcall::detail {

namespace asio = boost::asio;

PresenceTracker::PresenceTracker(PresenceOptions options, OrgBroadcast broadcast)
    : options_(std::move(options)), broadcast_(std::move(broadcast)) {
  store_ = options_.store ? options_.store : make_memory_store();
}

PresenceTracker::~PresenceTracker() {
  stop();
  sender_.reset();
}

void PresenceTracker::start() {
  if (running_.exchange(true)) return;
  seq_ = store_->last_seq();
  // Users online when the previous run ended lost their connections with
  // it: they go offline unless they come back within the grace period.
  auto stored = store_->load_online();
  {
    std::lock_guard lock(mutex_);
    for (auto& u : stored) {
      auto& s = users_[u.user];
      s.identity = User{u.user, u.name, u.orgs};
      s.online = true;
      s.seq = u.seq;
      s.since_ms = u.since_ms;
      seq_ = std::max(seq_, u.seq);
    }
  }
  if (!stored.empty()) {
    spdlog::info("presence: {} users were online before the restart; grace period {} ms",
                 stored.size(), options_.grace.count());
  }
  if (!options_.webhooks.url.empty() || options_.webhooks.discard) {
    std::string error;
    sender_ = hooks::WebhookSender::create(ioc_.get_executor(), options_.webhooks, store_->outbox(), error);
    if (!sender_) throw std::runtime_error("webhooks: " + error);
  }
  guard_.emplace(ioc_.get_executor());
  asio::post(ioc_, [this] {
    std::lock_guard lock(mutex_);
    for (auto& [id, s] : users_) {
      if (s.connections.empty() && s.online && !s.grace) start_grace(id, s);
    }
  });
  if (sender_) asio::post(ioc_, [s = sender_] { s->notify(); });  // events left from before
  thread_ = std::thread([this] {
    for (;;) {
      try {
        ioc_.run();
        break;
      } catch (const std::exception& e) {
        spdlog::error("presence: unhandled exception: {}", e.what());
      }
    }
  });
}

void PresenceTracker::stop() {
  if (!running_.exchange(false)) return;
  asio::post(ioc_, [this] {
    if (sender_) sender_->stop();
    group_timer_.cancel();  // notices still queued die with the connections they describe
    commit_scheduled_ = false;
    retry_timer_.cancel();
    retry_scheduled_ = false;
    if (!unstored_.empty()) {
      // A last try, so that the next start finds them (their webhooks wait
      // in the outbox); what is not stored now is lost with the process.
      std::string error;
      if (!store_->record(unstored_, sender_ != nullptr, error)) {
        spdlog::error("presence: stopping with {} transitions never stored ({}); they are lost",
                      unstored_.size(), error);
      }
      unstored_.clear();
    }
    std::lock_guard lock(mutex_);
    for (auto& [id, s] : users_) s.grace.reset();
  });
  guard_.reset();
  if (thread_.joinable()) thread_.join();
}

void PresenceTracker::connected(const User& user, ConnectionInfo info) {
  enqueue(Notice{user, std::move(info), true});
}

void PresenceTracker::disconnected(const std::string& user, const std::string& socket_id) {
  Notice n;
  n.user.id = user;
  n.info.socket_id = socket_id;
  n.connect = false;
  enqueue(std::move(n));
}

void PresenceTracker::enqueue(Notice n) {
  bool first;
  {
    std::lock_guard lock(inbox_mutex_);
    first = inbox_.empty();
    inbox_.push_back(std::move(n));
  }
  // Only the first notice of a group wakes the presence thread.
  if (first) asio::post(ioc_, [this] { schedule_commit(); });
}

void PresenceTracker::schedule_commit() {
  if (commit_scheduled_) return;
  commit_scheduled_ = true;
  const auto due = std::max(std::chrono::steady_clock::now() + kGroupWindow,
                            last_commit_ + kCommitInterval);
  group_timer_.expires_at(due);
  group_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // stopped
    commit_scheduled_ = false;
    drain();
  });
}

void PresenceTracker::drain() {
  if (!running_) return;  // stopped: the connections are going away too
  std::vector<Notice> notices;
  {
    std::lock_guard lock(inbox_mutex_);
    notices.swap(inbox_);
  }
  for (auto& n : notices) {
    if (n.connect) {
      on_connected(std::move(n.user), n.info);
    } else {
      on_disconnected(n.user.id, n.info.socket_id);
    }
  }
  commit();
}

PresenceTracker::PackedConnection::PackedConnection(const ConnectionInfo& c) : since_ms_(c.since_ms) {
  const std::string_view fields[] = {c.socket_id, c.nsp, c.transport, c.user_agent, c.address};
  std::size_t total = 0;
  for (auto f : fields) total += f.size();
  data_.reserve(total);
  for (std::size_t i = 0; i < std::size(fields); ++i) {
    data_.append(fields[i]);
    if (i < ends_.size()) ends_[i] = static_cast<std::uint32_t>(data_.size());
  }
}

ConnectionInfo PresenceTracker::PackedConnection::unpack() const {
  ConnectionInfo c;
  c.socket_id = field(0);
  c.nsp = field(1);
  c.transport = field(2);
  c.user_agent = field(3);
  c.address = field(4);
  c.since_ms = since_ms_;
  return c;
}

void PresenceTracker::on_connected(User user, const ConnectionInfo& info) {
  bool became_online = false;
  std::string id = user.id;
  {
    std::lock_guard lock(mutex_);
    auto& s = users_[id];
    s.identity = std::move(user);
    auto c = std::find_if(s.connections.begin(), s.connections.end(),
                          [&](const PackedConnection& x) { return x.socket_id() == info.socket_id; });
    if (c != s.connections.end()) {
      *c = PackedConnection(info);
    } else {
      s.connections.emplace_back(info);
      ++connections_;
    }
    if (s.grace) s.grace.reset();  // back within the grace period: no events
    if (!s.online) {
      s.online = true;
      s.since_ms = unix_ms();
      became_online = true;
    }
  }
  if (became_online) transition(id, true);
}

void PresenceTracker::on_disconnected(const std::string& user, const std::string& socket_id) {
  std::lock_guard lock(mutex_);
  auto it = users_.find(user);
  if (it == users_.end()) return;
  auto& s = it->second;
  connections_ -= std::erase_if(s.connections, [&](const PackedConnection& c) { return c.socket_id() == socket_id; });
  if (s.connections.empty()) s.connections.shrink_to_fit();
  if (s.connections.empty() && s.online && !s.grace) start_grace(user, s);
}

// Caller holds mutex_.
void PresenceTracker::start_grace(const std::string& user, UserState& s) {
  s.grace = std::make_unique<asio::steady_timer>(ioc_, options_.grace);
  s.grace->async_wait([this, user, timer = s.grace.get()](boost::system::error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(mutex_);
      auto it = users_.find(user);
      // A newer timer (or a reconnect) replaced this one.
      if (it == users_.end() || it->second.grace.get() != timer) return;
    }
    on_grace_expired(user);
  });
}

void PresenceTracker::on_grace_expired(const std::string& user) {
  {
    std::lock_guard lock(mutex_);
    auto it = users_.find(user);
    if (it == users_.end()) return;
    auto& s = it->second;
    s.grace.reset();
    if (!s.connections.empty() || !s.online) return;
    s.online = false;
  }
  transition(user, false);
  schedule_commit();  // graces that end together share a commit too
}

void PresenceTracker::transition(const std::string& user, bool online) {
  Transition t;
  auto& e = t.event;
  std::lock_guard lock(mutex_);
  auto it = users_.find(user);
  if (it == users_.end()) return;
  auto& s = it->second;
  s.seq = ++seq_;
  t.kind = online ? TransitionKind::online : TransitionKind::offline;
  e.id = "evt_" + random_id();
  e.type = event_type(t.kind);
  e.user = user;
  e.seq = s.seq;
  e.at_ms = online ? s.since_ms : unix_ms();
  e.connections = static_cast<std::uint32_t>(s.connections.size());
  e.orgs = s.identity.orgs;
  t.row = StoredUser{user, s.identity.name, s.identity.orgs, s.seq, s.since_ms};
  if (!online) users_.erase(it);  // nothing kept for offline users
  unstored_.push_back(std::move(t));
}

void PresenceTracker::commit() {
  // While the store fails, the retry timer commits: transitions pile up in
  // unstored_ (in order) and go in one batch when the store is back.
  if (unstored_.empty() || retry_scheduled_) return;
  last_commit_ = std::chrono::steady_clock::now();
  // Stored before anyone hears of it.
  std::string error;
  if (!store_->record(unstored_, sender_ != nullptr, error)) {
    store_failed(error);
    return;
  }
  auto batch = std::move(unstored_);
  unstored_.clear();
  if (retry_delay_.count() != 0) {
    const auto secs = std::chrono::duration<double>(last_commit_ - failing_since_).count();
    spdlog::warn("presence: store recovered after {:.1f} s; {} waiting transitions stored and "
                 "announced",
                 secs, batch.size());
    retry_delay_ = std::chrono::milliseconds(0);
  }
  {
    std::lock_guard lock(health_mutex_);
    health_.ok = true;
    health_.unstored = 0;
    health_.error.clear();
    health_.failing_since_ms = 0;
  }
  announce(batch);
}

void PresenceTracker::store_failed(const std::string& error) {
  const auto now = std::chrono::steady_clock::now();
  const bool first = retry_delay_.count() == 0;
  std::uint64_t dropped = 0;
  if (unstored_.size() > kMaxUnstored) {
    // Memory is bounded too: the oldest go first (they are the most likely
    // to have been superseded by a later transition of the same user).
    dropped = unstored_.size() - kMaxUnstored;
    unstored_.erase(unstored_.begin(), unstored_.begin() + static_cast<std::ptrdiff_t>(dropped));
    spdlog::error("presence: {} transitions dropped unstored and never announced: more than {} "
                  "wait for the failing store",
                  dropped, kMaxUnstored);
  }
  if (first) {
    failing_since_ = now;
    last_failure_log_ = now;
    spdlog::error("presence: cannot store {} transitions: {}; keeping them in memory (at most {}) "
                  "and retrying; they are announced once stored",
                  unstored_.size(), error, kMaxUnstored);
  } else if (now - last_failure_log_ >= kFailureLogEvery) {
    last_failure_log_ = now;
    spdlog::error("presence: store failing for {:.0f} s, {} transitions waiting: {}",
                  std::chrono::duration<double>(now - failing_since_).count(), unstored_.size(),
                  error);
  }
  {
    std::lock_guard lock(health_mutex_);
    health_.ok = false;
    health_.unstored = unstored_.size();
    health_.lost += dropped;
    health_.error = error;
    if (first) health_.failing_since_ms = unix_ms();
  }
  retry_delay_ = first ? kRetryMin : std::min(retry_delay_ * 2, kRetryMax);
  retry_scheduled_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // stopped
    retry_scheduled_ = false;
    commit();
  });
}

void PresenceTracker::announce(const std::vector<Transition>& batch) {
  for (const auto& t : batch) log_.record(t.event);
  for (const auto& [kind, e, row] : batch) {
    for (const auto& org : e.orgs) broadcast_(org.id, e.user, status_name(kind));
    for (const auto& cb : kind == TransitionKind::online ? online_callbacks : offline_callbacks) {
      try {
        cb(e);
      } catch (const std::exception& ex) {
        spdlog::error("presence: {} callback threw: {}", e.type, ex.what());
      }
    }
  }
  if (sender_) sender_->notify();
}

bool PresenceTracker::run_on_thread(std::function<void()> fn, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  asio::post(ioc_, [this, fn = std::move(fn), done] {
    drain();  // the notices queued before this call are applied first
    fn();
    done->set_value();
  });
  return fut.wait_for(timeout) == std::future_status::ready;
}

namespace {

// A header value as UTF-8 text (presence JSON carries the User-Agent): kept
// as is when it is UTF-8, else read as ISO-8859-1, HTTP's historical
// charset for bytes above 0x7F, so no client can make the API emit
// invalid JSON.
std::string header_text(std::string_view v) {
  if (valid_utf8(v)) return std::string(v);
  std::string out;
  out.reserve(v.size() * 2);
  for (unsigned char c : v) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace

void PresenceTracker::socket_connected(Socket& socket) {
  const User* user = socket.user();
  if (!user) return;
  const auto& hs = socket.handshake();
  ConnectionInfo info;
  info.socket_id = socket.id();
  info.nsp = socket.nsp();
  info.transport = socket.transport();
  if (auto ua = hs.headers.get("user-agent")) info.user_agent = header_text(*ua);
  info.address = hs.address;
  info.since_ms = unix_ms();
  connected(*user, std::move(info));
}

void PresenceTracker::socket_disconnected(Socket& socket) {
  if (const User* user = socket.user()) disconnected(user->id, socket.id());
}

std::vector<hooks::DeadLetter> PresenceTracker::dead_letter_events(std::size_t max) {
  auto out = std::make_shared<std::vector<hooks::DeadLetter>>();
  if (!run_on_thread([this, out, max] { *out = store_->outbox().dead(max); },
                     std::chrono::seconds(2))) {
    return {};
  }
  return std::move(*out);
}

UserPresence PresenceTracker::snapshot(const UserState& s) const {
  UserPresence p;
  p.user = s.identity.id;
  p.name = s.identity.name;
  p.orgs = s.identity.orgs;
  p.online = s.online;
  p.seq = s.seq;
  p.since_ms = s.since_ms;
  p.connections.reserve(s.connections.size());
  for (const auto& c : s.connections) p.connections.push_back(c.unpack());  // in connection order
  return p;
}

bool PresenceTracker::is_online(const std::string& user) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(user);
  return it != users_.end() && it->second.online;
}

std::optional<UserPresence> PresenceTracker::get(const std::string& user) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(user);
  if (it == users_.end() || !it->second.online) return std::nullopt;
  return snapshot(it->second);
}

std::vector<UserPresence> PresenceTracker::online_in_org(const std::string& org) const {
  std::vector<UserPresence> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, s] : users_) {
    if (!s.online) continue;
    for (const auto& o : s.identity.orgs) {
      if (o.id == org) {
        out.push_back(snapshot(s));
        break;
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const UserPresence& a, const UserPresence& b) { return a.user < b.user; });
  return out;
}

PresenceStoreHealth PresenceTracker::store_health() const {
  std::lock_guard lock(health_mutex_);
  return health_;
}

std::size_t PresenceTracker::online_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, s] : users_) n += s.online ? 1 : 0;
  return n;
}

}  // namespace rollcall::detail

namespace rollcall {

void Presence::online_in_org_async(const std::string& org, OrgCallback cb) const {
  cb(online_in_org(org));
}

std::size_t Presence::connection_count(const std::string& user) const {
  auto p = get(user);
  return p ? p->connections.size() : 0;
}
std::vector<ConnectionInfo> Presence::connections(const std::string& user) const {
  auto p = get(user);
  return p ? p->connections : std::vector<ConnectionInfo>{};
}

namespace {
DeadLetter public_dead_letter(hooks::DeadLetter d) {
  return DeadLetter{.id = std::move(d.event.id),
                    .type = std::move(d.event.type),
                    .user = std::move(d.event.user),
                    .seq = d.event.seq,
                    .at_ms = d.event.at_ms,
                    .connections = d.event.connections,
                    .attempts = d.event.attempts,
                    .dead_ms = d.dead_ms,
                    .reason = std::move(d.reason)};
}
}  // namespace

std::optional<OnlinePage> Presence::list_online(const std::string&, std::size_t) const { return std::nullopt; }
std::optional<std::uint64_t> Presence::connection_total() const { return std::nullopt; }
std::optional<std::vector<NodeInfo>> Presence::nodes() const { return std::nullopt; }
std::optional<WebhookQueue> Presence::webhook_queue() const { return std::nullopt; }
std::optional<std::size_t> Presence::retry_dead_letters() { return std::nullopt; }
std::vector<PresenceEvent> Presence::recent_transitions(std::size_t) const { return {}; }
PresenceMetrics Presence::metrics() const { return {}; }

std::optional<OnlinePage> detail::PresenceTracker::list_online(const std::string& cursor, std::size_t limit) const {
  // Users in id order after the cursor: the `limit` smallest ids above it.
  OnlinePage page;
  std::lock_guard lock(mutex_);
  std::vector<const UserState*> after;
  for (const auto& [id, s] : users_) {
    if (s.online && id > cursor) after.push_back(&s);
  }
  auto by_id = [](const UserState* a, const UserState* b) { return a->identity.id < b->identity.id; };
  const bool more = after.size() > limit;
  if (more) {
    std::nth_element(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(limit), after.end(), by_id);
    after.resize(limit);
  }
  std::sort(after.begin(), after.end(), by_id);
  for (const auto* s : after) page.users.push_back(snapshot(*s));
  if (more && !page.users.empty()) page.next = page.users.back().user;
  return page;
}

std::optional<std::uint64_t> detail::PresenceTracker::connection_total() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

std::optional<std::vector<NodeInfo>> detail::PresenceTracker::nodes() const {
  NodeInfo self;
  self.connections = *connection_total();
  self.self = true;
  return std::vector<NodeInfo>{std::move(self)};
}

std::optional<WebhookQueue> detail::PresenceTracker::webhook_queue() const {
  WebhookQueue q;
  q.enabled = sender_ != nullptr;
  hooks::OutboxCounts counts;
  auto* self = const_cast<PresenceTracker*>(this);  // reads the store on its thread
  if (!self->run_on_thread([self, &counts] { counts = self->store_->outbox().counts(); },
                           std::chrono::seconds(2))) {
    return std::nullopt;
  }
  q.pending = counts.pending;
  q.retrying = counts.retrying;
  q.dead = counts.dead;
  if (counts.oldest) q.oldest = public_dead_letter(hooks::DeadLetter{std::move(*counts.oldest), 0, {}});
  return q;
}

std::optional<std::size_t> detail::PresenceTracker::retry_dead_letters() {
  std::size_t moved = 0;
  if (!run_on_thread([this, &moved] {
        moved = store_->outbox().requeue_dead();
        if (sender_) sender_->notify();
      }, std::chrono::seconds(2))) {
    return std::nullopt;
  }
  return moved;
}

std::vector<PresenceEvent> detail::PresenceTracker::recent_transitions(std::size_t max) const {
  return log_.newest(max);
}

PresenceMetrics detail::PresenceTracker::metrics() const {
  if (!sender_) return log_.metrics(nullptr);
  const auto stats = sender_->stats();
  return log_.metrics(&stats);
}

std::vector<DeadLetter> detail::PresenceTracker::dead_letters(std::size_t max) const {
  // Reads the store on the presence thread; the tracker itself is not changed.
  auto dead = const_cast<PresenceTracker*>(this)->dead_letter_events(max);
  std::vector<DeadLetter> out;
  out.reserve(dead.size());
  for (auto& d : dead) out.push_back(public_dead_letter(std::move(d)));
  return out;
}

}  // namespace rollcall
