// A FIFO on a vector: no allocation while empty (std::deque allocates ~600
// bytes up front, per connection), one contiguous block while in use, and
// memory handed back once a burst has drained.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace rollcall {

template <class T>
class Fifo {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  T& front() noexcept { return items_[head_]; }
  T& back() noexcept { return items_.back(); }
  auto begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() noexcept { return items_.end(); }
  auto begin() const noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const noexcept { return items_.end(); }

  void push_back(T value) { items_.push_back(std::move(value)); }

  void pop_front() {
    items_[head_] = T();
    if (++head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAt && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  void pop_back() {
    items_.pop_back();
    if (empty()) clear();
  }

  void clear() {
    items_.clear();
    head_ = 0;
    if (items_.capacity() > kKeepCapacity) std::vector<T>().swap(items_);
  }

 private:
  static constexpr std::size_t kCompactAt = 64;
  // A drained queue gives its block back: most connections are idle most
  // of the time, and a write that completes at once costs one small
  // allocation, far below the system call it comes with.
  static constexpr std::size_t kKeepCapacity = 0;
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace rollcall
