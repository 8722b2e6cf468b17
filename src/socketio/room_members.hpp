// The members of one room on one loop. A flat array, so a broadcast walks
// its recipients contiguously; rooms above kIndexFrom members also keep each
// member's position, so leaving stays O(1) (the last member takes the
// leaver's place: the order is not kept, and nothing depends on it).
// Small rooms (a user's own room has one to a few members) cost one small
// array and no hash table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace rollcall::detail {

template <class T>
class BasicRoomMembers {
 public:
  static constexpr std::size_t kIndexFrom = 32;

  bool empty() const noexcept { return list_.empty(); }
  std::size_t size() const noexcept { return list_.size(); }
  auto begin() const noexcept { return list_.begin(); }
  auto end() const noexcept { return list_.end(); }
  bool contains(T* m) const { return find(m) != npos; }

  // False when `m` was already a member.
  bool insert(T* m) {
    if (find(m) != npos) return false;
    list_.push_back(m);
    if (pos_) {
      (*pos_)[m] = static_cast<std::uint32_t>(list_.size() - 1);
    } else if (list_.size() > kIndexFrom) {
      pos_ = std::make_unique<std::unordered_map<T*, std::uint32_t>>();
      pos_->reserve(list_.size() * 2);
      for (std::size_t i = 0; i < list_.size(); ++i) (*pos_)[list_[i]] = static_cast<std::uint32_t>(i);
    }
    return true;
  }

  // False when `m` was not a member.
  bool erase(T* m) {
    std::size_t i = find(m);
    if (i == npos) return false;
    T* last = list_.back();
    list_[i] = last;
    list_.pop_back();
    if (pos_) {
      if (last != m) (*pos_)[last] = static_cast<std::uint32_t>(i);
      pos_->erase(m);
      if (list_.size() < kIndexFrom / 2) pos_.reset();  // hysteresis: no rebuild at the edge
    }
    if (list_.capacity() > 16 && list_.size() < list_.capacity() / 4) list_.shrink_to_fit();
    return true;
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  std::size_t find(T* m) const {
    if (pos_) {
      auto it = pos_->find(m);
      return it == pos_->end() ? npos : it->second;
    }
    for (std::size_t i = 0; i < list_.size(); ++i) {
      if (list_[i] == m) return i;
    }
    return npos;
  }

  std::vector<T*> list_;
  std::unique_ptr<std::unordered_map<T*, std::uint32_t>> pos_;  // only for large rooms
};

class SocketImpl;
using RoomMembers = BasicRoomMembers<SocketImpl>;

}  // namespace rollcall::detail
