#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
namespace rollcall::hooks {
struct OutboxEvent {
  std::int64_t rowid = 0;      // store order (delivery order)
  std::string id;              // unique event id (receivers dedupe by it)
  std::string type;            // "user.online" | "user.offline"
  std::string user;
  std::uint64_t seq = 0;       // per-user sequence, grows
  std::int64_t at_ms = 0;      // when the transition happened (ms since epoch)
  std::uint32_t connections = 0;
  std::int64_t created_ms = 0; // when it entered the outbox
  std::uint32_t attempts = 0;
};
struct DeadLetter { OutboxEvent event; std::int64_t dead_ms = 0; std::string reason; };
struct OutboxCounts {
  std::uint64_t pending = 0;   // waiting
  std::uint64_t retrying = 0;  // of those, attempted at least once
  std::uint64_t dead = 0;      // dead letters kept
  std::optional<OutboxEvent> oldest;
};
// Implemented by the store. All calls happen on the store's thread (the
// same io_context the sender runs on).
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual std::vector<OutboxEvent> pending(std::size_t max) = 0;   // oldest first (rowid order)
  virtual void delivered(const std::vector<std::int64_t>& rowids) = 0;   // remove
  virtual void attempted(const std::vector<std::int64_t>& rowids) = 0;   // attempts += 1
  virtual void dead_letter(const std::vector<std::int64_t>& rowids, const std::string& reason) = 0;
  virtual std::vector<DeadLetter> dead(std::size_t max) = 0;       // newest first, for the admin API
  virtual OutboxCounts counts() = 0;
  // Moves every dead letter back to the end of the queue (attempts 0,
  // entered now, so max_age counts again); returns how many.
  virtual std::size_t requeue_dead() = 0;
};
}
