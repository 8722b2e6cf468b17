#include "engineio/heartbeat.hpp"
#include "run_until.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Wheel = rollcall::engineio::BasicHeartbeatWheel<struct Target>;
using Clock = Wheel::Clock;

struct Target {
  std::vector<std::pair<std::uint32_t, Clock::time_point>> fired;
  std::function<void(std::uint32_t)> on_fire;
  void on_heartbeat(std::uint32_t gen) {
    fired.emplace_back(gen, Clock::now());
    if (on_fire) on_fire(gen);
  }
};

using rollcall::testing::run_until;

TEST(HeartbeatWheel, ExactEntriesFireInDueOrderAndNotEarly) {
  boost::asio::io_context ioc;
  Wheel wheel(ioc);
  auto a = std::make_shared<Target>();
  auto b = std::make_shared<Target>();
  auto start = Clock::now();
  wheel.schedule(a, 1, start + 40ms, 0ms);
  wheel.schedule(b, 7, start + 10ms, 0ms);
  ASSERT_TRUE(run_until(ioc, [&] { return !a->fired.empty() && !b->fired.empty(); }));
  EXPECT_EQ(a->fired[0].first, 1u);
  EXPECT_EQ(b->fired[0].first, 7u);
  EXPECT_GE(a->fired[0].second, start + 40ms);
  EXPECT_GE(b->fired[0].second, start + 10ms);
  EXPECT_LT(b->fired[0].second, a->fired[0].second);
}

TEST(HeartbeatWheel, EntriesWithSlackInOneTickShareOneWakeUpAndNeverFireBeforeTheirWindow) {
  boost::asio::io_context ioc;
  Wheel wheel(ioc);
  auto base = Clock::now() + 300ms;
  // Align to a tick so that all of them fall into the same one.
  auto tick_start = Clock::time_point((base.time_since_epoch() / Wheel::kTick + 1) * Wheel::kTick);
  std::vector<std::shared_ptr<Target>> targets;
  for (int i = 0; i < 100; ++i) {
    targets.push_back(std::make_shared<Target>());
    auto due = tick_start + std::chrono::milliseconds(i * 2);  // within 200 ms of the tick start
    wheel.schedule(targets.back(), 1, due, 1s);
  }
  ASSERT_TRUE(run_until(ioc, [&] { return targets.back()->fired.size() == 1; }));
  EXPECT_EQ(wheel.wakeups(), 1u);  // one wake-up served them all
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(targets[i]->fired.size(), 1u) << i;
    auto due = tick_start + std::chrono::milliseconds(i * 2);
    EXPECT_GE(targets[i]->fired[0].second, due - 1s) << i;  // inside [due - slack, due]
    EXPECT_GE(targets[i]->fired[0].second, tick_start) << i;
  }
}

TEST(HeartbeatWheel, RescheduleFromTheHandlerArmsForTheNextEntry) {
  boost::asio::io_context ioc;
  Wheel wheel(ioc);
  auto t = std::make_shared<Target>();
  t->on_fire = [&](std::uint32_t gen) {
    if (gen < 3) wheel.schedule(t, gen + 1, Clock::now() + 5ms, 0ms);
  };
  wheel.schedule(t, 1, Clock::now() + 5ms, 0ms);
  ASSERT_TRUE(run_until(ioc, [&] { return t->fired.size() == 3; }));
  EXPECT_EQ(t->fired[2].first, 3u);
}

TEST(HeartbeatWheel, DeadTargetsAreSkipped) {
  boost::asio::io_context ioc;
  Wheel wheel(ioc);
  auto dead = std::make_shared<Target>();
  auto live = std::make_shared<Target>();
  wheel.schedule(dead, 1, Clock::now() + 5ms, 0ms);
  wheel.schedule(live, 1, Clock::now() + 10ms, 0ms);
  std::weak_ptr<Target> watch = dead;
  dead.reset();
  ASSERT_TRUE(run_until(ioc, [&] { return live->fired.size() == 1; }));
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(wheel.size(), 0u);
}

}  // namespace
