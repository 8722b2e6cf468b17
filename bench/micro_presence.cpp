// Micro-benchmark of the presence tracker: the cost of a connect/disconnect
// notice and of a full online/offline cycle, and how it scales with the
// number of users online (it should not: per-user state is a hash map entry).
#include "presence/tracker.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace {

using namespace rollcall;
using namespace std::chrono_literals;

std::unique_ptr<detail::PresenceTracker> make_tracker(std::shared_ptr<PresenceStore> store = nullptr) {
  PresenceOptions o;
  o.grace = 0ms;  // offline as soon as the grace timer runs
  o.store = std::move(store);
  auto t = std::make_unique<detail::PresenceTracker>(o, [](const std::string&, const std::string&, const char*) {});
  t->start();
  return t;
}

ConnectionInfo conn(const std::string& id) {
  ConnectionInfo c;
  c.socket_id = id;
  c.nsp = "/";
  c.transport = "websocket";
  return c;
}

// Connect + disconnect of an extra tab of a user who stays online: no
// transition, the common case of reloads and multi-tab users. Arg: users
// already online.
void BM_ExtraTabConnectDisconnect(benchmark::State& state) {
  auto t = make_tracker();
  const auto online = static_cast<int>(state.range(0));
  for (int i = 0; i < online; ++i) t->connected(User{"u" + std::to_string(i), {}, {}}, conn("base" + std::to_string(i)));
  t->run_on_thread([] {}, 60s);
  std::size_t n = 0;
  for (auto _ : state) {
    std::string user = "u" + std::to_string(n % static_cast<std::size_t>(online));
    std::string sid = "tab" + std::to_string(n++);
    t->connected(User{user, {}, {}}, conn(sid));
    t->disconnected(user, sid);
    if (n % 1024 == 0) t->run_on_thread([] {}, 60s);  // keep the queue bounded
  }
  t->run_on_thread([] {}, 60s);
  state.SetItemsProcessed(state.iterations());
  t->stop();
}
BENCHMARK(BM_ExtraTabConnectDisconnect)->Arg(1000)->Arg(10000)->Arg(100000)->UseRealTime();

// A full cycle: a new user comes online, stored, then goes. Arg 0: memory
// store; 1: the SQLite store (a file in /tmp, WAL, group commit).
void BM_OnlineOfflineCycle(benchmark::State& state) {
  auto path = std::filesystem::temp_directory_path() /
              ("rollcall-micro-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  auto t = make_tracker(state.range(0) == 1 ? open_sqlite_store(path.string()) : nullptr);
  std::size_t n = 0;
  for (auto _ : state) {
    std::string user = "cycle" + std::to_string(n++);
    t->connected(User{user, {}, {}}, conn(user));
    t->disconnected(user, user);
    if (n % 1024 == 0) t->run_on_thread([] {}, 60s);
  }
  t->run_on_thread([] {}, 60s);
  state.SetItemsProcessed(state.iterations());
  t->stop();
  t.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}
BENCHMARK(BM_OnlineOfflineCycle)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
