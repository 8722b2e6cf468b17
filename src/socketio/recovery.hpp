// Connection state recovery (Node's connectionStateRecovery): keeps the
// packets broadcast recently, with an offset appended as last argument, and
// the state of sockets that dropped for a recoverable reason.
#pragma once

#include "socketio/core.hpp"

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rollcall::detail {

class RecoveryStore {
 public:
  explicit RecoveryStore(RecoveryOptions options);

  // Appends an offset to `data` ([event, ...args]), encodes it and keeps it.
  // Thread-safe; offsets are assigned in the order packets are stored.
  EncodedPtr persist(const NamespaceImpl& nsp, boost::json::array data,
                     const std::vector<Bytes>& attachments, const Target& target);

  struct Saved {
    std::string id;
    std::string pid;
    std::vector<std::string> rooms;
    boost::json::object data;
    std::optional<User> user;
  };
  void save(const NamespaceImpl& nsp, Saved s);

  struct Restored {
    Saved state;
    std::vector<EncodedPtr> missed;
  };
  // Takes the saved session `pid` of `nsp` if it is within the window and
  // `offset` is still buffered; returns the packets it missed.
  std::optional<Restored> restore(const NamespaceImpl& nsp, const std::string& pid,
                                  const std::string& offset);

  static bool recoverable(engineio::CloseReason reason);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::uint64_t seq;
    Clock::time_point at;
    const NamespaceImpl* nsp;
    Target target;
    EncodedPtr packet;
  };
  struct Session {
    Saved state;
    const NamespaceImpl* nsp;
    Clock::time_point at;
  };
  void prune(Clock::time_point now);

  RecoveryOptions options_;
  std::string prefix_;  // distinguishes offsets of different server runs
  std::mutex mutex_;
  std::uint64_t next_ = 0;
  std::deque<Entry> packets_;
  std::unordered_map<std::string, Session> sessions_;  // by pid
};

}  // namespace rollcall::detail
