#include "common/poller.hpp"
#include "run_until.hpp"

#include "common/unique_fd.hpp"

#include <boost/asio/post.hpp>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using rollcall::Poller;
using rollcall::UniqueFd;

struct Pair {
  UniqueFd ours, theirs;
};

Pair socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "socketpair failed";
    return {};
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Recorder : Poller::Handler {
  int fd = -1;
  std::string read;
  int polls = 0;
  int flushes = 0;
  bool* alive = nullptr;
  std::function<void()> on_read;
  void on_poll(std::uint32_t events) override {
    ++polls;
    if (!(events & EPOLLIN)) return;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) read.append(buf, static_cast<std::size_t>(n));
    if (on_read) on_read();
  }
  void on_flush() override { ++flushes; }
  ~Recorder() {
    if (alive) *alive = false;
  }
};

using rollcall::testing::run_until;

TEST(Poller, DeliversReadinessForRegisteredDescriptors) {
  boost::asio::io_context ioc;
  Poller poller(ioc);
  auto p = socket_pair();
  auto h = std::make_shared<Recorder>();
  h->fd = p.ours.get();
  ASSERT_FALSE(poller.add(p.ours.get(), h));
  EXPECT_EQ(poller.size(), 1u);
  ASSERT_EQ(::write(p.theirs.get(), "hello", 5), 5);
  ASSERT_TRUE(run_until(ioc, [&] { return h->read == "hello"; }));
  ASSERT_EQ(::write(p.theirs.get(), " again", 6), 6);
  ASSERT_TRUE(run_until(ioc, [&] { return h->read == "hello again"; }));
  poller.remove(p.ours.get());
  EXPECT_EQ(poller.size(), 0u);
}

TEST(Poller, AddFailsWithAClearErrorForABadDescriptor) {
  boost::asio::io_context ioc;
  Poller poller(ioc);
  auto ec = poller.add(-1, std::make_shared<Recorder>());
  EXPECT_TRUE(ec);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  int closed = fds[0];
  ::close(closed);
  EXPECT_TRUE(poller.add(closed, std::make_shared<Recorder>()));
  EXPECT_EQ(poller.size(), 0u);
}

TEST(Poller, WritesDuringABatchAreCorkedAndFlushedOnceAtItsEnd) {
  boost::asio::io_context ioc;
  Poller poller(ioc);
  auto a = socket_pair();
  auto b = socket_pair();
  auto ha = std::make_shared<Recorder>();
  auto hb = std::make_shared<Recorder>();
  ha->fd = a.ours.get();
  hb->fd = b.ours.get();
  bool corked_inside = false;
  // Both handlers ask for a flush of `hb` (as two broadcasts would).
  auto ask = [&] {
    corked_inside = poller.corked();
    poller.defer_flush(hb.get());
  };
  ha->on_read = ask;
  hb->on_read = ask;
  ASSERT_FALSE(poller.add(a.ours.get(), ha));
  ASSERT_FALSE(poller.add(b.ours.get(), hb));
  ASSERT_EQ(::write(a.theirs.get(), "x", 1), 1);
  ASSERT_EQ(::write(b.theirs.get(), "y", 1), 1);
  ASSERT_TRUE(run_until(ioc, [&] { return ha->read == "x" && hb->read == "y"; }));
  EXPECT_TRUE(corked_inside);
  EXPECT_FALSE(poller.corked());
  EXPECT_GE(hb->flushes, 1);
  EXPECT_EQ(ha->flushes, 0);
}

TEST(Poller, AHandlerRemovedDuringABatchLivesUntilTheBatchEnds) {
  boost::asio::io_context ioc;
  Poller poller(ioc);
  auto a = socket_pair();
  auto b = socket_pair();
  bool b_alive = true;
  auto ha = std::make_shared<Recorder>();
  ha->fd = a.ours.get();
  {
    auto hb = std::make_shared<Recorder>();
    hb->fd = b.ours.get();
    hb->alive = &b_alive;
    ASSERT_FALSE(poller.add(b.ours.get(), hb));
  }
  bool alive_right_after_remove = false;
  ha->on_read = [&] {
    // Whichever runs first, removing `b` here must not free it mid-batch.
    poller.remove(b.ours.get());
    alive_right_after_remove = b_alive;
  };
  ASSERT_FALSE(poller.add(a.ours.get(), ha));
  ASSERT_EQ(::write(b.theirs.get(), "y", 1), 1);
  ASSERT_EQ(::write(a.theirs.get(), "x", 1), 1);
  ASSERT_TRUE(run_until(ioc, [&] { return ha->read == "x"; }));
  EXPECT_TRUE(alive_right_after_remove);
  EXPECT_FALSE(b_alive);  // released once the batch was over
  EXPECT_EQ(poller.size(), 1u);
}

TEST(Poller, APostedCorkLastsUntilTheHandlersQueuedWithItHaveRun) {
  boost::asio::io_context ioc;
  Poller poller(ioc);
  auto h = std::make_shared<Recorder>();
  std::vector<bool> corked_in_handlers;
  // Two "broadcasts from another loop", queued together.
  for (int i = 0; i < 2; ++i) {
    boost::asio::post(ioc, [&] {
      poller.cork_posted();
      corked_in_handlers.push_back(poller.corked());
      poller.defer_flush(h.get());
    });
  }
  ASSERT_TRUE(run_until(ioc, [&] { return h->flushes > 0 && !poller.corked(); }));
  EXPECT_EQ(corked_in_handlers, (std::vector<bool>{true, true}));
  EXPECT_EQ(h->flushes, 2);  // both deferred, both run when the cork ended after the second
  EXPECT_FALSE(poller.corked());
}

}  // namespace
