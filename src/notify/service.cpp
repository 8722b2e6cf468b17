// rollcall::Notifications: one thread owns the store and the PostgreSQL
// ingest; the socket API, HTTP and C++ callers post jobs to it. Delivery is
// two broadcasts per notification (with and without the detail), each to
// the recipients' user rooms, encoded once (and carried to the other nodes
// by the cluster adapter).
#include "notify/pg_ingest.hpp"
#include "notify/store.hpp"
#include "common/clock.hpp"

#include <rollcall/notifications.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace rollcall {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t kDefaultPage = 50;
constexpr std::size_t kMaxPage = 200;
constexpr std::size_t kMembershipCache = 100000;

std::string orgs_key(const std::vector<OrgRole>& orgs) {
  std::string k;
  for (const auto& o : orgs) {
    k += o.id;
    k += '\0';
    k += o.role;
    k += '\0';
  }
  return k;
}

json::object error_reply(const std::string& error) {
  json::object o;
  o["error"] = error;
  return o;
}

// Answers `ack` from any thread: the answer is posted to the socket's loop
// (and dropped if the socket is gone by then).
std::function<void(json::object)> answer_on_loop(Socket& socket, Ack ack) {
  return [weak = socket.weak(), ack](json::object o) {
    if (auto s = weak.lock()) s->post([ack, o = std::move(o)](Socket&) mutable { ack(Args::of(std::move(o))); });
  };
}

}  // namespace

json::object to_json(const Notification& n) {
  json::object o;
  o["id"] = n.id;
  o["type"] = n.type;
  o["data"] = n.data;
  o["created_at"] = format_rfc3339_ms(n.created_ms);
  o["read"] = n.read;
  if (n.detail) o["detail"] = *n.detail;
  return o;
}

json::object to_json(const Notifications::ReadResult& result) {
  json::object o;
  if (result.all) {
    o["all"] = true;
  } else {
    json::array ids;
    for (auto id : result.ids) ids.push_back(id);
    o["ids"] = std::move(ids);
  }
  o["unread"] = result.unread;
  return o;
}

json::object to_json(const NotificationPage& page) {
  json::object o;
  json::array items;
  for (const auto& n : page.items) items.push_back(to_json(n));
  o["items"] = std::move(items);
  o["next"] = page.next ? json::value(*page.next) : json::value(nullptr);
  o["unread"] = page.unread;
  return o;
}

struct Notifications::Impl : std::enable_shared_from_this<Notifications::Impl> {
  Server& server;
  NotificationOptions options;
  Namespace& nsp;
  std::unique_ptr<notify::Store> store;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
  asio::steady_timer prune_timer{ioc};
  std::unique_ptr<notify::PgIngest> ingest;
  std::atomic<bool> stopped{false};
  std::atomic<std::uint64_t> published{0};  // stored and delivered since start (Health::published)

  mutable std::mutex mutex;  // guards the fields below
  bool store_ok = true;
  std::string store_error;
  std::unordered_map<std::string, std::string> membership_seen;  // user -> orgs_key last written
  std::unordered_set<std::string> touched;  // users who got notifications since the last prune

  Impl(Server& s, NotificationOptions o) : server(s), options(std::move(o)), nsp(s.of(options.nsp)) {}

  // Jobs waiting for the notifications thread, and publish requests
  // waiting to be stored, each at most options.max_waiting: past it callers are
  // answered at once that the service is busy, rather than queued without
  // limit behind a slow store.
  std::atomic<std::size_t> waiting{0};
  std::string busy() const {
    return "notifications are busy: " + std::to_string(options.max_waiting) +
           " requests wait for the store; try again";
  }

  // Runs `job` on the notifications thread; StoreError becomes `on_error`.
  template <class Job, class OnError>
  void post(Job job, OnError on_error) {
    if (waiting.fetch_add(1) >= options.max_waiting) {
      --waiting;
      on_error(busy());
      return;
    }
    asio::post(ioc, [self = shared_from_this(), job = std::move(job), on_error = std::move(on_error)]() mutable {
      --self->waiting;
      self->run_job(job, on_error);
    });
  }

  // `job` now (on the notifications thread), its failures caught once here.
  template <class Job, class OnError>
  void run_job(Job&& job, OnError&& on_error) {
    try {
      job(*store);
      set_store_state(true, "");
    } catch (const notify::StoreError& e) {
      set_store_state(false, e.what());
      spdlog::error("notifications: {}", e.what());
      on_error(std::string("notifications are unavailable: ") + e.what());
    } catch (const std::exception& e) {  // a bug: said, and the thread goes on
      spdlog::error("notifications: a job failed: {}", e.what());
      on_error("internal error");
    }
  }

  void set_store_state(bool ok, std::string error) {
    std::lock_guard lock(mutex);
    if (ok && !store_ok) spdlog::info("notifications: the store answers again");
    store_ok = ok;
    store_error = std::move(error);
  }

  // An org's members, read once per batch.
  using MemberCache = std::unordered_map<std::string, std::vector<Membership>>;

  // Audience -> distinct recipients, each with whether they see the detail.
  std::vector<notify::Recipient> resolve(notify::Store& st, MemberCache& cache, const NotificationRequest& r) {
    // Roles of each user in the audience's orgs.
    std::map<std::string, std::vector<std::string>> roles;  // user -> roles in audience orgs
    std::set<std::string> audience_orgs(r.audience.orgs.begin(), r.audience.orgs.end());
    for (const auto& e : r.audience.roles) audience_orgs.insert(e.id);
    std::set<std::string> whole(r.audience.orgs.begin(), r.audience.orgs.end());
    std::set<std::string> recipients(r.audience.users.begin(), r.audience.users.end());
    for (const auto& org : audience_orgs) {
      auto cached = cache.find(org);
      if (cached == cache.end()) cached = cache.emplace(org, st.members(org)).first;
      for (const auto& m : cached->second) {
        bool in = whole.count(org) > 0;
        for (const auto& e : r.audience.roles) in = in || (e.id == org && e.role == m.role);
        if (in) recipients.insert(m.user);
        roles[m.user].push_back(m.role);
      }
    }
    std::vector<notify::Recipient> out;
    out.reserve(recipients.size());
    for (const auto& u : recipients) {
      bool detail = r.detail.has_value();
      if (detail && r.detail_roles) {
        detail = false;
        auto it = roles.find(u);
        if (it != roles.end()) {
          for (const auto& role : it->second) {
            for (const auto& allowed : *r.detail_roles) detail = detail || role == allowed;
          }
        }
      }
      out.push_back(notify::Recipient{u, detail});
    }
    return out;
  }

  // On the notifications thread: stores the batch in one transaction, then
  // delivers each new one. Throws StoreError (nothing stored, nothing sent).
  std::vector<Published> publish_batch(notify::Store& st, const std::vector<const NotificationRequest*>& batch) {
    MemberCache members;
    std::vector<notify::Store::Insert> inserts;
    inserts.reserve(batch.size());
    for (const auto* r : batch) {
      notify::Store::Insert in;
      in.recipients = resolve(st, members, *r);
      in.notification.type = r->type;
      in.notification.data = json::serialize(r->data);
      if (r->detail) in.notification.detail = json::serialize(*r->detail);
      in.notification.source = r->source;
      in.notification.created_ms = unix_ms();
      inserts.push_back(std::move(in));
    }
    auto stored = st.insert_batch(inserts);
    std::vector<Published> out;
    out.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& recipients = inserts[i].recipients;
      out.push_back(Published{stored[i].id, recipients.size(), stored[i].duplicate});
      if (!stored[i].duplicate) {
        published.fetch_add(1, std::memory_order_relaxed);
        deliver(*batch[i], stored[i], recipients);
      }
    }
    return out;
  }

  Published publish_now(notify::Store& st, const NotificationRequest& r) { return publish_batch(st, {&r}).front(); }

  // Two broadcasts: the recipients who see the detail, and the others.
  void deliver(const NotificationRequest& r, const notify::Stored& stored, const std::vector<notify::Recipient>& recipients) {
    {
      std::lock_guard lock(mutex);
      for (const auto& rc : recipients) touched.insert(rc.user);
    }
    Notification shown;
    shown.id = stored.id;
    shown.type = r.type;
    shown.data = r.data;
    shown.created_ms = stored.created_ms;
    BroadcastOperator::Target with, without;
    for (const auto& rc : recipients) (rc.detail ? with : without).rooms.push_back(user_room(rc.user));
    if (!without.rooms.empty()) nsp.target(std::move(without)).emit("notification", Args::of(to_json(shown)));
    if (!with.rooms.empty()) {
      shown.detail = r.detail;
      nsp.target(std::move(with)).emit("notification", Args::of(to_json(shown)));
    }
  }

  // publish() requests wait here and are stored together: one transaction
  // for whatever arrived while the previous batch was being written.
  struct Pending {
    NotificationRequest request;
    PublishCallback cb;
  };
  std::vector<Pending> queue;  // guarded by mutex
  bool flush_posted = false;   // guarded by mutex
  static constexpr std::size_t kBatch = 256;

  void enqueue(NotificationRequest request, PublishCallback cb) {
    std::unique_lock lock(mutex);
    if (queue.size() >= options.max_waiting) {
      lock.unlock();
      if (cb) cb(busy(), {});
      return;
    }
    queue.push_back(Pending{std::move(request), std::move(cb)});
    if (flush_posted) return;
    flush_posted = true;
    asio::post(ioc, [self = shared_from_this()] { self->flush(); });
  }

  void flush() {
    std::vector<Pending> batch;
    {
      std::lock_guard lock(mutex);
      if (queue.size() <= kBatch) {
        batch.swap(queue);
        flush_posted = false;
      } else {
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.begin() + kBatch));
        queue.erase(queue.begin(), queue.begin() + kBatch);
        asio::post(ioc, [self = shared_from_this()] { self->flush(); });  // the rest next
      }
    }
    std::vector<const NotificationRequest*> requests;
    requests.reserve(batch.size());
    for (const auto& p : batch) requests.push_back(&p.request);
    run_job(
        [&](notify::Store& st) {
          auto published = publish_batch(st, requests);
          for (std::size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].cb) batch[i].cb("", published[i]);
          }
        },
        [&](const std::string& e) {
          for (auto& p : batch) {
            if (p.cb) p.cb(e, {});
          }
        });
  }

  void tell_read(const std::string& user, const ReadResult& result, const std::string& except_socket) {
    BroadcastOperator::Target t;
    t.rooms.push_back(user_room(user));
    if (!except_socket.empty()) t.except.push_back(except_socket);
    nsp.target(std::move(t)).emit("notifications:read", Args::of(to_json(result)));
  }

  void schedule_prune() {
    prune_timer.expires_after(options.prune_every);
    prune_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      self->prune();
      self->schedule_prune();
    });
  }

  void prune() {
    std::vector<std::string> users;
    {
      std::lock_guard lock(mutex);
      users.assign(touched.begin(), touched.end());
      touched.clear();
    }
    try {
      auto horizon = unix_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(options.max_age).count();
      auto removed = store->prune(horizon, options.max_per_user, users);
      if (removed > 0) spdlog::debug("notifications: retention removed {} entries", removed);
    } catch (const notify::StoreError& e) {
      spdlog::warn("notifications: retention could not run: {}", e.what());
      std::lock_guard lock(mutex);
      touched.insert(users.begin(), users.end());  // next time
    }
  }

  // ---- the socket API -------------------------------------------------------

  void attach(Socket& socket) {
    if (socket.nsp() != options.nsp) return;
    const User* user = socket.user();
    if (!user) {
      // Answered, so that a client waiting for its ack learns why.
      for (const char* event : {"notifications:list", "notifications:read"}) {
        socket.on(event, [](Args, Ack ack) {
          if (ack) ack(Args::of(error_reply("anonymous sockets have no notifications")));
        });
      }
      return;
    }
    if (options.memberships_from_users && !user->orgs.empty()) sync_memberships(*user);
    std::weak_ptr<Impl> weak_self = weak_from_this();
    socket.on("notifications:list", [weak_self, &socket](Args args, Ack ack) {
      auto self = weak_self.lock();
      if (!self || !ack) return;
      std::optional<std::int64_t> before;
      std::size_t limit = kDefaultPage;
      if (args.size() > 0 && args[0].is_object()) {
        const auto& o = args[0].as_object();
        if (const auto* b = o.if_contains("before"); b && !b->is_null()) {
          if (!b->is_int64() && !b->is_uint64()) return ack(Args::of(error_reply("before: must be an id (integer)")));
          before = b->to_number<std::int64_t>();
        }
        if (const auto* l = o.if_contains("limit"); l && !l->is_null()) {
          if (!l->is_int64() && !l->is_uint64()) return ack(Args::of(error_reply("limit: must be an integer 1..200")));
          auto n = l->to_number<std::int64_t>();
          limit = static_cast<std::size_t>(std::clamp<std::int64_t>(n, 1, kMaxPage));
        }
      }
      auto reply = answer_on_loop(socket, ack);
      self->list_impl(socket.user()->id, before, limit, [reply](const std::string& error, NotificationPage page) {
        reply(error.empty() ? to_json(page) : error_reply(error));
      });
    });
    socket.on("notifications:read", [weak_self, &socket](Args args, Ack ack) {
      auto self = weak_self.lock();
      if (!self) return;
      std::vector<std::int64_t> ids;
      bool all = false;
      std::string bad;
      if (args.size() == 0 || !args[0].is_object()) {
        bad = "expected {\"ids\": [...]} or {\"all\": true}";
      } else {
        const auto& o = args[0].as_object();
        if (const auto* a = o.if_contains("all"); a && a->is_bool() && a->as_bool()) {
          all = true;
        } else if (const auto* list = o.if_contains("ids"); list && list->is_array()) {
          for (const auto& v : list->as_array()) {
            if (!v.is_int64() && !v.is_uint64()) {
              bad = "ids: must be an array of ids (integers)";
              break;
            }
            ids.push_back(v.to_number<std::int64_t>());
          }
          if (ids.size() > 1000) bad = "ids: at most 1000 at once";
        } else {
          bad = "expected {\"ids\": [...]} or {\"all\": true}";
        }
      }
      if (!bad.empty()) {
        if (ack) ack(Args::of(error_reply(bad)));
        return;
      }
      auto reply = answer_on_loop(socket, ack);
      self->read_impl(socket.user()->id, std::move(ids), all, socket.id(),
                      [reply, ack](const std::string& error, ReadResult r) {
                        if (ack) reply(error.empty() ? json::object{{"unread", r.unread}} : error_reply(error));
                      });
    });
  }

  void sync_memberships(const User& user) {
    std::string key = orgs_key(user.orgs);
    {
      std::lock_guard lock(mutex);
      auto it = membership_seen.find(user.id);
      if (it != membership_seen.end() && it->second == key) return;  // written already
      if (membership_seen.size() >= kMembershipCache) membership_seen.clear();
      membership_seen[user.id] = key;
    }
    post([id = user.id, orgs = user.orgs](notify::Store& st) { st.replace_memberships(id, orgs); },
         [self = shared_from_this(), id = user.id](const std::string&) {
           std::lock_guard lock(self->mutex);
           self->membership_seen.erase(id);  // written next time
         });
  }

  // The directory changed for `user` other than through its token: the
  // next connection writes the token's orgs again (the token is the truth).
  void forget_memberships(const std::string& user) {
    std::lock_guard lock(mutex);
    membership_seen.erase(user);
  }

  void list_impl(std::string user, std::optional<std::int64_t> before, std::size_t limit,
                 std::function<void(const std::string&, NotificationPage)> cb) {
    limit = std::clamp<std::size_t>(limit, 1, kMaxPage);
    post(
        [user, before, limit, cb](notify::Store& st) {
          NotificationPage page;
          page.items = st.list(user, before, limit + 1);
          if (page.items.size() > limit) {
            page.items.resize(limit);
            page.next = page.items.back().id;
          }
          page.unread = st.unread(user);
          cb("", std::move(page));
        },
        [cb](const std::string& e) { cb(e, {}); });
  }

  void read_impl(std::string user, std::vector<std::int64_t> ids, bool all, std::string except_socket,
                 std::function<void(const std::string&, ReadResult)> cb) {
    post(
        [self = shared_from_this(), user, ids = std::move(ids), all, except_socket, cb](notify::Store& st) {
          auto outcome = st.mark_read(user, ids, all);
          ReadResult r{std::move(outcome.ids), all, outcome.unread};
          self->tell_read(user, r, except_socket);
          if (cb) cb("", std::move(r));
        },
        [cb](const std::string& e) {
          if (cb) cb(e, {});
        });
  }
};

Notifications::Notifications(Server& server, NotificationOptions options) {
  if (options.store_url.empty()) throw std::invalid_argument("notifications: store_url is empty");
  if (options.channel.empty()) throw std::invalid_argument("notifications: channel is empty");
  if (options.max_per_user == 0) throw std::invalid_argument("notifications: max_per_user must be at least 1");
  if (options.prune_every.count() <= 0) throw std::invalid_argument("notifications: prune_every must be positive");
  if (options.max_waiting == 0) throw std::invalid_argument("notifications: max_waiting must be at least 1");
  impl_ = std::make_shared<Impl>(server, std::move(options));
  auto& impl = *impl_;
  try {
    impl.store = notify::open_store(impl.options.store_url);
  } catch (const notify::StoreError& e) {
    throw std::runtime_error(e.what());
  }
  std::weak_ptr<Impl> weak = impl_;
  server.observe_sockets(
      [weak](Socket& socket) {
        if (auto self = weak.lock()) self->attach(socket);
      },
      nullptr);
  server.set_notifications(this);
  if (!impl.options.postgres_url.empty()) {
    impl.ingest = std::make_unique<notify::PgIngest>(
        impl.ioc, impl.options.postgres_url, impl.options.channel,
        [&impl](NotificationRequest r) { return impl.publish_now(*impl.store, r); });
    impl.ingest->start();
  }
  asio::post(impl.ioc, [&impl] { impl.prune(); });
  impl.schedule_prune();
  impl.thread = std::thread([&impl] { impl.ioc.run(); });
}

Notifications::~Notifications() { stop(); }

void Notifications::stop() {
  if (!impl_ || impl_->stopped) return;
  auto& impl = *impl_;
  asio::post(impl.ioc, [&impl] {
    impl.stopped = true;
    impl.prune_timer.cancel();
    if (impl.ingest) impl.ingest->stop();
  });
  impl.work.reset();
  if (impl.thread.joinable()) impl.thread.join();
  impl.store.reset();
  impl.server.set_notifications(nullptr);
}

void Notifications::publish(NotificationRequest request, PublishCallback cb) {
  impl_->enqueue(std::move(request), std::move(cb));
}

void Notifications::list(std::string user, std::optional<std::int64_t> before, std::size_t limit,
                         std::function<void(const std::string&, NotificationPage)> cb) {
  impl_->list_impl(std::move(user), before, limit, std::move(cb));
}

void Notifications::mark_read(std::string user, std::vector<std::int64_t> ids, bool all, std::string except_socket,
                              std::function<void(const std::string&, ReadResult)> cb) {
  impl_->read_impl(std::move(user), std::move(ids), all, std::move(except_socket), std::move(cb));
}

void Notifications::set_member(Membership m, std::function<void(const std::string&)> cb) {
  impl_->forget_memberships(m.user);
  impl_->post(
      [m = std::move(m), cb](notify::Store& st) {
        st.put_member(m);
        if (cb) cb("");
      },
      [cb](const std::string& e) {
        if (cb) cb(e);
      });
}

void Notifications::remove_member(std::string org, std::string user,
                                  std::function<void(const std::string&, bool)> cb) {
  impl_->forget_memberships(user);
  impl_->post(
      [org = std::move(org), user = std::move(user), cb](notify::Store& st) {
        bool removed = st.delete_member(org, user);
        if (cb) cb("", removed);
      },
      [cb](const std::string& e) {
        if (cb) cb(e, false);
      });
}

void Notifications::members(std::string org, std::function<void(const std::string&, std::vector<Membership>)> cb) {
  impl_->post(
      [org = std::move(org), cb](notify::Store& st) {
        auto m = st.members(org);
        if (cb) cb("", std::move(m));
      },
      [cb](const std::string& e) {
        if (cb) cb(e, {});
      });
}

void Notifications::set_memberships(std::string user, std::vector<OrgRole> orgs,
                                    std::function<void(const std::string&)> cb) {
  impl_->forget_memberships(user);
  impl_->post(
      [user = std::move(user), orgs = std::move(orgs), cb](notify::Store& st) {
        st.replace_memberships(user, orgs);
        if (cb) cb("");
      },
      [cb](const std::string& e) {
        if (cb) cb(e);
      });
}

Notifications::Health Notifications::health() const {
  Health h;
  {
    std::lock_guard lock(impl_->mutex);
    h.store_ok = impl_->store_ok;
    h.store_error = impl_->store_error;
  }
  h.published = impl_->published.load(std::memory_order_relaxed);
  if (impl_->ingest) {
    h.postgres_configured = true;
    h.postgres_connected = impl_->ingest->connected();
    h.postgres_error = impl_->ingest->error();
  }
  return h;
}

}  // namespace rollcall
