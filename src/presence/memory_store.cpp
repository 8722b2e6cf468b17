#include "hooks/memory_outbox.hpp"
#include "presence/store.hpp"

#include <algorithm>
#include <unordered_map>

namespace rollcall {

namespace {

class MemoryStore final : public PresenceStore {
 public:
  std::vector<StoredUser> load_online() override {
    std::vector<StoredUser> out;
    for (auto& [id, u] : online_) out.push_back(u);
    return out;
  }
  std::uint64_t last_seq() override { return seq_; }
  bool record(const std::vector<Transition>& batch, bool enqueue, std::string&) override {
    for (const auto& [kind, e, row] : batch) {
      seq_ = std::max(seq_, e.seq);
      if (kind == TransitionKind::online) online_[e.user] = row;
      else online_.erase(e.user);
      if (enqueue) {
        hooks::OutboxEvent ev;
        ev.id = e.id;
        ev.type = e.type;
        ev.user = e.user;
        ev.seq = e.seq;
        ev.at_ms = e.at_ms;
        ev.connections = e.connections;
        outbox_.enqueue(std::move(ev));
      }
    }
    return true;
  }
  hooks::Outbox& outbox() override { return outbox_; }

 private:
  std::uint64_t seq_ = 0;
  std::unordered_map<std::string, StoredUser> online_;
  hooks::MemoryOutbox outbox_;
};

}  // namespace

std::shared_ptr<PresenceStore> make_memory_store() { return std::make_shared<MemoryStore>(); }

}  // namespace rollcall
