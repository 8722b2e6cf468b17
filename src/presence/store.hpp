// The presence store seam: what presence keeps across restarts. The SQLite
// store is the embedded default; a Redis store (cluster issue) will
// implement the same interface.
#pragma once

#include "hooks/outbox.hpp"

#include <rollcall/presence.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rollcall {

// A user the store believes online (its connections are not stored: they
// die with the process).
struct StoredUser {
  std::string user;
  std::string name;
  std::vector<OrgRole> orgs;
  std::uint64_t seq = 0;
  std::int64_t since_ms = 0;
};

// A user's transition. The kind decides; PresenceEvent::type carries the
// same as its wire name ("user.online" / "user.offline") for callbacks,
// webhooks and the outbox.
enum class TransitionKind : std::uint8_t { online, offline };
constexpr const char* event_type(TransitionKind k) noexcept {
  return k == TransitionKind::online ? "user.online" : "user.offline";
}
constexpr const char* status_name(TransitionKind k) noexcept {
  return k == TransitionKind::online ? "online" : "offline";
}

struct Transition {
  TransitionKind kind = TransitionKind::online;
  PresenceEvent event;
  StoredUser row;
};

// All calls come from the presence thread.
class PresenceStore {
 public:
  virtual ~PresenceStore() = default;
  virtual std::vector<StoredUser> load_online() = 0;
  // Highest sequence number handed out so far.
  virtual std::uint64_t last_seq() = 0;
  // Stores transitions atomically, all or none (one transaction: the
  // tracker commits the transitions of a few milliseconds together): for
  // each, the user's row (inserted for user.online, removed for
  // user.offline), the sequence counter and, when `enqueue`, the webhook
  // event. On failure nothing is stored: returns false with `error` saying
  // why (the tracker logs it and retries the same batch, grown by the
  // transitions made meanwhile).
  virtual bool record(const std::vector<Transition>& batch, bool enqueue, std::string& error) = 0;
  // The webhook outbox kept by this store.
  virtual hooks::Outbox& outbox() = 0;
};

// Everything in memory: state does not survive a restart.
std::shared_ptr<PresenceStore> make_memory_store();

}  // namespace rollcall
