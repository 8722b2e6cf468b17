// A loop's own epoll set for its WebSocket connections, in the style of
// uWebSockets: each connection's descriptor is registered once
// (edge-triggered, read and write), and one Asio wait on the epoll
// descriptor wakes the loop for a whole batch of ready connections.
// Compared with one Asio operation per read, this saves a system call per
// message (Asio re-registers a readiness wait with epoll_ctl, or probes with
// a speculative read) and the per-descriptor reactor state and pending
// operation (a few hundred bytes per idle connection).
//
// The poller owns what it watches: a handler stays alive while registered,
// and one removed during a batch lives until the batch is over, so events
// already fetched never reach freed memory. Events name the descriptor, not
// the handler: an event for a descriptor removed meanwhile is dropped.
//
// Corking: while a batch is dispatched, a connection writes its first frame
// at once and defers the frames that follow until the batch ends, then
// flushes them in one write; so the broadcasts triggered by several messages
// of one batch cost a recipient at most two writes, and a lone broadcast
// still costs one.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace rollcall {

class Poller {
 public:
  class Handler {
   public:
    // `events`: the EPOLL* bits that are ready.
    virtual void on_poll(std::uint32_t events) = 0;
    // Writes what was deferred while the batch was dispatched.
    virtual void on_flush() = 0;

   protected:
    ~Handler() = default;
  };

  // Throws std::system_error when the epoll set cannot be created (startup).
  explicit Poller(boost::asio::io_context& ioc);
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller();

  // Watches `fd` (non-blocking, owned by `handler`) until remove(fd).
  boost::system::error_code add(int fd, std::shared_ptr<Handler> handler);
  // Stops watching `fd`; call before closing it. The handler is released
  // now, or at the end of the batch being dispatched.
  void remove(int fd) noexcept;
  std::size_t size() const noexcept { return watched_; }

  // True while a batch is being dispatched: writes may be deferred with
  // defer_flush() instead of being made at once.
  bool corked() const noexcept { return dispatching_; }
  // Changes with every batch: lets a handler tell whether it already wrote
  // during the current one.
  std::uint64_t batch() const noexcept { return batch_; }
  // `handler` (registered, or removed during this batch: alive until it
  // ends) gets on_flush() when the batch ends.
  void defer_flush(Handler* handler) { dirty_.push_back(handler); }

 private:
  void arm();
  void run_batches();

  boost::asio::posix::stream_descriptor epoll_;  // the epoll set, watched by Asio
  std::vector<std::shared_ptr<Handler>> by_fd_;
  std::size_t watched_ = 0;
  std::vector<Handler*> dirty_;
  std::vector<std::shared_ptr<Handler>> retired_;
  std::uint64_t batch_ = 0;
  bool dispatching_ = false;
};

}  // namespace rollcall
