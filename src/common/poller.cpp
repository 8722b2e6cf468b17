#include "common/poller.hpp"

#include <boost/asio/post.hpp>

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

namespace rollcall {

namespace {
constexpr int kBatch = 256;    // events per epoll_wait
constexpr int kMaxRounds = 4;  // batches per wake-up before other handlers get a turn
}  // namespace

Poller::Poller(boost::asio::io_context& ioc) : epoll_(ioc) {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  epoll_.assign(fd);
  arm();
}

Poller::~Poller() {
  boost::system::error_code ec;
  epoll_.close(ec);
}

boost::system::error_code Poller::add(int fd, std::shared_ptr<Handler> handler) {
  if (fd < 0) return boost::asio::error::bad_descriptor;
  auto slot = static_cast<std::size_t>(fd);
  if (slot >= by_fd_.size()) by_fd_.resize(std::max<std::size_t>(slot + 1, by_fd_.size() * 2));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return {errno, boost::system::system_category()};
  }
  if (!by_fd_[slot]) ++watched_;
  by_fd_[slot] = std::move(handler);
  return {};
}

void Poller::remove(int fd) noexcept {
  auto slot = static_cast<std::size_t>(fd);
  if (fd < 0 || slot >= by_fd_.size() || !by_fd_[slot]) return;
  epoll_event ev{};
  ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, &ev);
  --watched_;
  if (corked()) {
    retired_.push_back(std::move(by_fd_[slot]));
  } else {
    // Released after the slot is cleared: the handler's destructor may
    // register or remove other descriptors.
    auto handler = std::move(by_fd_[slot]);
  }
}

void Poller::arm() {
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](boost::system::error_code ec) {
                      if (ec) return;  // operation_aborted: the loop is going away
                      run_batches();
                      arm();
                    });
}

void Poller::run_batches() {
  std::array<epoll_event, kBatch> events;
  for (int round = 0; round < kMaxRounds; ++round) {
    int n = ::epoll_wait(epoll_.native_handle(), events.data(), kBatch, 0);
    if (n <= 0) return;  // nothing ready (or EINTR: the next wake-up retries)
    begin_cork();
    for (int i = 0; i < n; ++i) {
      auto slot = static_cast<std::size_t>(events[i].data.fd);
      // A descriptor removed earlier in this batch has an empty slot (or,
      // if its number was reused, a new handler that finds nothing to do).
      if (slot < by_fd_.size() && by_fd_[slot]) by_fd_[slot]->on_poll(events[i].events);
    }
    end_cork();
    if (n < kBatch) return;
  }
}

void Poller::end_cork() {
  if (cork_depth_ > 1) {
    --cork_depth_;
    return;
  }
  // Flushing may remove more handlers (a failed write): still corked, they
  // stay alive until the flush is over.
  while (!dirty_.empty()) {
    auto batch = std::move(dirty_);
    dirty_.clear();
    for (Handler* h : batch) h->on_flush();
  }
  cork_depth_ = 0;
  retired_.clear();
}

void Poller::cork_posted() {
  if (corked()) return;  // a batch or a posted cork is on: its end flushes
  posted_cork_ = true;
  begin_cork();
  boost::asio::post(epoll_.get_executor(), [this] {
    posted_cork_ = false;
    end_cork();
  });
}

}  // namespace rollcall
