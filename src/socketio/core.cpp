// detail::Core: the loops, the namespace registry and the fan-out seam.
#include "socketio/core.hpp"
#include "socketio/recovery.hpp"

#include "engineio/loop.hpp"

#include <stdexcept>
#include <thread>

namespace rollcall::detail {

std::unique_ptr<Adapter> make_local_adapter(Core& server);

namespace {
ServerOptions normalised(ServerOptions o) {
  unsigned n = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  if (n > 255) throw std::invalid_argument("threads must be at most 255");
  o.threads = n;
  if (o.path.empty() || o.path.front() != '/') o.path = "/" + o.path;
  if (o.path.back() != '/') o.path += '/';
  return o;
}
}  // namespace

Core::Core(ServerOptions o) : options(normalised(std::move(o))) {
  for (unsigned i = 0; i < options.threads; ++i) loops.push_back(std::make_unique<Loop>(i));
  adapter = make_local_adapter(*this);
  if (options.recovery.enabled) recovery = std::make_unique<RecoveryStore>(options.recovery);
  get_or_create("/");
}

Core::~Core() {
  // Sessions reference namespaces: drop them first.
  for (auto& loop : loops) loop->sessions.clear();
}

NamespaceImpl& Core::get_or_create(std::string_view name) {
  std::string n(name);
  if (n.empty() || n.front() != '/') n.insert(n.begin(), '/');
  NamespaceImpl* created = nullptr;
  {
    std::unique_lock lock(nsp_mutex);
    auto& slot = namespaces[n];
    if (slot) return *slot;
    slot = std::make_unique<NamespaceImpl>(*this, n);
    created = slot.get();
  }
  if (cluster) cluster->namespace_created(*created);
  return *created;
}

NamespaceImpl* Core::resolve(const std::string& name, const boost::json::object& auth) {
  {
    std::shared_lock lock(nsp_mutex);
    if (auto it = namespaces.find(name); it != namespaces.end()) return it->second.get();
  }
  for (auto& parent : dynamic_parents) {
    if (!parent->predicate(name, auth)) continue;
    NamespaceImpl* created = nullptr;
    {
      std::unique_lock lock(nsp_mutex);
      auto& slot = namespaces[name];
      if (slot) return slot.get();
      slot = std::make_unique<NamespaceImpl>(*this, name, parent.get());
      created = slot.get();
    }
    if (cluster) cluster->namespace_created(*created);
    return created;
  }
  return nullptr;
}

std::unique_ptr<engineio::SessionHandler> Core::make_client(engineio::Session& session) {
  return std::make_unique<Client>(*this, session);
}

}  // namespace rollcall::detail
