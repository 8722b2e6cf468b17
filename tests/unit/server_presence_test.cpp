// Server::set_presence: another Presence implementation replaces the
// built-in one (the Redis cluster uses this).
#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <gtest/gtest.h>

#include <memory>

namespace {

class CountingPresence final : public rollcall::Presence {
 public:
  void on_online(Callback) override {}
  void on_offline(Callback) override {}
  bool is_online(const std::string& user) const override { return user == "always"; }
  std::optional<rollcall::UserPresence> get(const std::string& user) const override {
    if (!is_online(user)) return std::nullopt;
    rollcall::UserPresence p;
    p.user = user;
    p.online = true;
    p.connections.resize(2);
    return p;
  }
  std::vector<rollcall::UserPresence> online_in_org(const std::string&) const override { return {}; }
  std::size_t online_count() const override { return 1; }
  rollcall::PresenceStoreHealth store_health() const override { return {}; }
  std::vector<rollcall::DeadLetter> dead_letters(std::size_t) const override { return {}; }
};

TEST(ServerPresence, SetPresenceReplacesTheBuiltInOneAndItsDefaultsUseGet) {
  rollcall::ServerOptions o;
  o.threads = 1;
  rollcall::Server io(o);
  auto custom = std::make_shared<CountingPresence>();
  io.set_presence(custom);
  EXPECT_EQ(&io.presence(), custom.get());
  EXPECT_EQ(io.presence().connection_count("always"), 2u);
  EXPECT_EQ(io.presence().connections("always").size(), 2u);
  EXPECT_EQ(io.presence().connection_count("never"), 0u);
}

TEST(ServerPresence, WithoutPresenceAndWithoutAReplacementPresenceThrows) {
  rollcall::ServerOptions o;
  o.threads = 1;
  o.presence.enabled = false;
  rollcall::Server io(o);
  EXPECT_THROW(io.presence(), std::logic_error);
  io.set_presence(std::make_shared<CountingPresence>());
  EXPECT_NO_THROW(io.presence());
}

}  // namespace
