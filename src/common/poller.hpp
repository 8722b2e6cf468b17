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
// Corking: while a batch is dispatched, connections defer their writes and
// are flushed once when the batch ends, so the broadcasts triggered by
// several messages of one batch reach a recipient in a single write (a lone
// broadcast still costs one). cork_posted() does the same for broadcasts
// that other loops post to this one.
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
  // now, or when the current batch (cork) ends.
  void remove(int fd) noexcept;
  std::size_t size() const noexcept { return watched_; }

  // True while a batch is being dispatched (or a posted cork is on):
  // writes may be deferred with defer_flush() instead of being made at once.
  bool corked() const noexcept { return cork_depth_ > 0; }
  // Corks the loop until the handlers already queued on it have run: for
  // work that arrives as posted handlers rather than through the epoll set
  // (a broadcast from another loop), so that several of them queued
  // together also share one write per recipient.
  void cork_posted();
  // `handler` (registered, or removed during this batch: alive until it
  // ends) gets on_flush() when the batch ends.
  void defer_flush(Handler* handler) { dirty_.push_back(handler); }

 private:
  void arm();
  void run_batches();
  void begin_cork() noexcept { ++cork_depth_; }
  // Ends a cork; the outermost one flushes and releases retired handlers.
  void end_cork();

  boost::asio::posix::stream_descriptor epoll_;  // the epoll set, watched by Asio
  std::vector<std::shared_ptr<Handler>> by_fd_;
  std::size_t watched_ = 0;
  std::vector<Handler*> dirty_;
  std::vector<std::shared_ptr<Handler>> retired_;
  int cork_depth_ = 0;
  bool posted_cork_ = false;
};

}  // namespace rollcall
