#include "socketio/recovery.hpp"

#include "common/encoding.hpp"

#include <algorithm>
#include <charconv>

namespace rollcall::detail {

RecoveryStore::RecoveryStore(RecoveryOptions options)
    : options_(options), prefix_(random_id().substr(0, 8) + "-") {}

bool RecoveryStore::recoverable(engineio::CloseReason reason) {
  using R = engineio::CloseReason;
  switch (reason) {
    case R::transport_error:
    case R::transport_close:
    case R::forced_close:
    case R::ping_timeout:
    case R::server_shutting_down:
    case R::forced_server_close:
      return true;
    case R::parse_error:
    case R::client_namespace_disconnect:
    case R::server_namespace_disconnect:
      return false;
  }
  return false;
}

void RecoveryStore::prune(Clock::time_point now) {
  auto limit = now - options_.max_disconnection;
  while (!packets_.empty() &&
         (packets_.front().at < limit || packets_.size() > options_.max_packets)) {
    packets_.pop_front();
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.at < limit) it = sessions_.erase(it);
    else ++it;
  }
}

EncodedPtr RecoveryStore::persist(const NamespaceImpl& nsp, boost::json::array data,
                                  const std::vector<Bytes>& attachments, const Target& target) {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  std::uint64_t seq = ++next_;
  data.emplace_back(prefix_ + std::to_string(seq));
  auto packet = encode(socketio::PacketType::event, nsp.name_, std::nullopt, std::move(data),
                       attachments);
  packets_.push_back(Entry{seq, now, &nsp, target, packet});
  if ((seq & 1023) == 0 || packets_.size() > options_.max_packets) prune(now);
  return packet;
}

void RecoveryStore::save(const NamespaceImpl& nsp, Saved s) {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  prune(now);
  std::string pid = s.pid;
  sessions_[pid] = Session{std::move(s), &nsp, now};
}

std::optional<RecoveryStore::Restored> RecoveryStore::restore(const NamespaceImpl& nsp,
                                                              const std::string& pid,
                                                              const std::string& offset) {
  std::lock_guard lock(mutex_);
  prune(Clock::now());
  auto it = sessions_.find(pid);
  if (it == sessions_.end() || it->second.nsp != &nsp) return std::nullopt;
  if (!offset.starts_with(prefix_)) return std::nullopt;
  std::uint64_t seq = 0;
  const char* b = offset.data() + prefix_.size();
  const char* e = offset.data() + offset.size();
  auto [p, ec] = std::from_chars(b, e, seq);
  if (ec != std::errc() || p != e) return std::nullopt;
  auto pos = std::lower_bound(packets_.begin(), packets_.end(), seq,
                              [](const Entry& en, std::uint64_t s) { return en.seq < s; });
  if (pos == packets_.end() || pos->seq != seq) return std::nullopt;

  Restored r;
  r.state = std::move(it->second.state);
  sessions_.erase(it);
  auto in_session = [&](const std::string& room) {
    return room == r.state.id ||
           std::find(r.state.rooms.begin(), r.state.rooms.end(), room) != r.state.rooms.end();
  };
  for (++pos; pos != packets_.end(); ++pos) {
    if (pos->nsp != &nsp) continue;
    const Target& t = pos->target;
    bool included = t.rooms.empty() || std::any_of(t.rooms.begin(), t.rooms.end(), in_session);
    bool excluded = std::any_of(t.except.begin(), t.except.end(), in_session);
    if (included && !excluded) r.missed.push_back(pos->packet);
  }
  return r;
}

}  // namespace rollcall::detail
