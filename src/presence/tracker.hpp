// Presence: counts each user's connections over every loop and namespace
// and turns them into exactly-once user.online / user.offline transitions.
//
// All state changes happen on one presence thread (its own io_context):
// loops queue connect/disconnect notices for it, so transitions of a user
// are totally ordered and strictly alternate. Queries from other threads
// read the same state under a mutex (never on the message hot path).
//
// Group commit: notices are taken in groups (one wake-up of the presence
// thread per group, not per connection), and the transitions of a group are
// stored in one transaction, then announced (org members, callbacks,
// webhook). A group closes kGroupWindow after its first notice, and no
// sooner than kCommitInterval after the previous commit: a lone notice
// waits 10 ms, and under load a commit carries up to 50 ms of notices (a
// commit and its webhook batch cost the presence thread a few hundred
// microseconds whatever their size).
#pragma once

#include "hooks/transition_log.hpp"
#include "presence/store.hpp"

#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rollcall::hooks {
class WebhookSender;
struct DeadLetter;
}  // namespace rollcall::hooks

namespace rollcall::detail {

class PresenceTracker final : public Presence {
 public:
  // `broadcast(org, payload)` sends a "presence" event to the members of an
  // org (wired by the server to its namespace).
  using OrgBroadcast = std::function<void(const std::string& org, const std::string& user,
                                          const char* status)>;
  PresenceTracker(PresenceOptions options, OrgBroadcast broadcast);
  ~PresenceTracker();

  // Loads what the store kept (users online before a restart get a grace
  // period), starts the webhook sender and the presence thread.
  void start();
  // Stops the thread. Pending grace periods are not fired: the store still
  // lists those users, and the next start gives them their grace again.
  void stop();

  // How long a notice waits for others to share its commit, and the
  // shortest time between two commits.
  static constexpr std::chrono::milliseconds kGroupWindow{10};
  static constexpr std::chrono::milliseconds kCommitInterval{50};
  // A failing store: retry delays, how often the failure is logged again,
  // and how many transitions wait in memory at most.
  static constexpr std::chrono::milliseconds kRetryMin{100};
  static constexpr std::chrono::milliseconds kRetryMax{5000};
  static constexpr std::chrono::seconds kFailureLogEvery{10};
  static constexpr std::size_t kMaxUnstored = 100000;

  // From any loop.
  void connected(const User& user, ConnectionInfo info);
  void disconnected(const std::string& user, const std::string& socket_id);
  // The server's socket observers (Server::observe_sockets), on the
  // socket's loop: a socket with a User counts from its connect to its
  // disconnect, with the details of its connection at connect time.
  void socket_connected(Socket& socket);
  void socket_disconnected(Socket& socket);

  // Applies the notices queued so far, then runs `fn` on the presence
  // thread, and waits for it (bounded).
  bool run_on_thread(std::function<void()> fn, std::chrono::milliseconds timeout);
  std::vector<hooks::DeadLetter> dead_letter_events(std::size_t max);

  // Presence interface.
  std::vector<Callback> online_callbacks, offline_callbacks;
  void on_online(Callback cb) override { online_callbacks.push_back(std::move(cb)); }
  void on_offline(Callback cb) override { offline_callbacks.push_back(std::move(cb)); }
  bool is_online(const std::string& user) const override;
  std::optional<UserPresence> get(const std::string& user) const override;
  std::vector<UserPresence> online_in_org(const std::string& org) const override;
  std::size_t online_count() const override;
  PresenceStoreHealth store_health() const override;
  std::vector<DeadLetter> dead_letters(std::size_t max) const override;
  std::optional<OnlinePage> list_online(const std::string& cursor, std::size_t limit) const override;
  std::optional<std::uint64_t> connection_total() const override;
  std::optional<std::vector<NodeInfo>> nodes() const override;
  std::optional<WebhookQueue> webhook_queue() const override;
  std::optional<std::size_t> retry_dead_letters() override;
  std::vector<PresenceEvent> recent_transitions(std::size_t max) const override;
  PresenceMetrics metrics() const override;

 private:
  // A connection's details kept in one buffer (its five strings end to
  // end): a user online keeps one per connection, so it stays small.
  class PackedConnection {
   public:
    explicit PackedConnection(const ConnectionInfo& c);
    std::string_view socket_id() const noexcept { return field(0); }
    ConnectionInfo unpack() const;

   private:
    // Field i of the five (socket id, nsp, transport, user agent, address).
    std::string_view field(std::size_t i) const noexcept {
      std::size_t begin = i == 0 ? 0 : ends_[i - 1];
      std::size_t end = i < ends_.size() ? ends_[i] : data_.size();
      return std::string_view(data_).substr(begin, end - begin);
    }
    std::string data_;
    std::array<std::uint32_t, 4> ends_{};  // where the first four fields end
    std::int64_t since_ms_ = 0;
  };

  struct UserState {
    User identity;
    std::vector<PackedConnection> connections;  // in connection order (a user has few)
    bool online = false;
    std::uint64_t seq = 0;
    std::int64_t since_ms = 0;
    std::unique_ptr<boost::asio::steady_timer> grace;
  };

  struct Notice {
    User user;            // only the id for a disconnect
    ConnectionInfo info;  // only the socket id for a disconnect
    bool connect = true;
  };
  void enqueue(Notice n);
  // Arms the group timer unless it is armed (presence thread).
  void schedule_commit();
  void drain();
  // Stores the transitions not stored yet, then announces them; on failure
  // keeps them and schedules a retry.
  void commit();
  void store_failed(const std::string& error);
  void announce(const std::vector<Transition>& batch);
  void on_connected(User user, const ConnectionInfo& info);
  void on_disconnected(const std::string& user, const std::string& socket_id);
  void start_grace(const std::string& user, UserState& state);
  void on_grace_expired(const std::string& user);
  // Decides a transition; commit() stores and announces it.
  void transition(const std::string& user, bool online);
  UserPresence snapshot(const UserState& s) const;

  // First member, so it is destroyed last: the sender's timers and the
  // handlers still queued in it refer to it.
  boost::asio::io_context ioc_{1};
  PresenceOptions options_;
  OrgBroadcast broadcast_;
  std::shared_ptr<PresenceStore> store_;
  std::shared_ptr<hooks::WebhookSender> sender_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
  mutable std::mutex mutex_;  // guards users_ (written on the presence thread only)
  std::unordered_map<std::string, UserState> users_;
  std::uint64_t seq_ = 0;
  std::mutex inbox_mutex_;  // guards inbox_ (filled by the loops)
  std::vector<Notice> inbox_;
  boost::asio::steady_timer group_timer_{ioc_};
  bool commit_scheduled_ = false;                         // presence thread only
  std::chrono::steady_clock::time_point last_commit_{};  // presence thread only
  // Transitions decided and not yet stored, in order (presence thread only).
  std::vector<Transition> unstored_;
  boost::asio::steady_timer retry_timer_{ioc_};
  bool retry_scheduled_ = false;                         // presence thread only
  std::chrono::milliseconds retry_delay_{0};             // presence thread only
  std::chrono::steady_clock::time_point failing_since_{};  // presence thread only
  std::chrono::steady_clock::time_point last_failure_log_{};  // presence thread only
  mutable std::mutex health_mutex_;
  PresenceStoreHealth health_;  // guarded by health_mutex_
  std::atomic<bool> running_{false};
  // Monitoring: connections counted (under mutex_), transitions announced.
  std::uint64_t connections_ = 0;
  hooks::TransitionLog log_;
};

}  // namespace rollcall::detail
