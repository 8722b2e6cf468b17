// rollcall::Cluster (<rollcall/cluster.hpp>): the composition of the
// cluster's parts for one Server, through the public API an embedder has:
// the Redis adapter (set_cluster_adapter) carries Socket.IO operations to
// the other nodes; presence (ClusterPresence) follows the sockets with
// observe_sockets and replaces the built-in one with set_presence.
#include <rollcall/cluster.hpp>

#include "cluster/cluster_presence.hpp"
#include "cluster/redis_adapter.hpp"
#include "common/encoding.hpp"
#include "redis/config.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>
#include <stdexcept>

namespace rollcall {

struct Cluster::Impl {
  Server& server;
  ClusterOptions options;
  std::shared_ptr<cluster::ClusterPresence> presence;
  std::shared_ptr<cluster::RedisAdapter> adapter;

  // The namespaces this node has had sockets with a user in: where a
  // fenced node closes its clients.
  std::mutex nsps_mutex;
  std::set<std::string> nsps;

  Impl(Server& s, ClusterOptions o) : server(s), options(std::move(o)) {}
};

Cluster::Cluster(Server& server, ClusterOptions options)
    : impl_(std::make_unique<Impl>(server, std::move(options))) {
  auto& o = impl_->options;
  std::string error;
  auto redis = redis::RedisConfig::from_url(o.redis_url, error);
  if (!redis) throw std::invalid_argument("cluster redis_url: " + error);
  if (o.node_id.empty()) o.node_id = random_id().substr(0, 12);
  if (o.lease.count() < 100) throw std::invalid_argument("cluster lease: at least 100 ms");

  // Socket.IO across nodes first: presence's org events travel through it.
  cluster::RedisAdapterOptions ao;
  ao.redis = *redis;
  ao.key = o.adapter_key;
  ao.requests_timeout = o.requests_timeout;
  impl_->adapter = cluster::RedisAdapter::create(server, std::move(ao));
  impl_->adapter->start();
  server.set_cluster_adapter(impl_->adapter);

  const auto& presence_options = server.options().presence;
  if (presence_options.enabled) {
    cluster::PresenceConfig pc;
    pc.redis = *redis;
    pc.prefix = o.prefix;
    pc.node_id = o.node_id;
    pc.address = o.address;
    pc.lease = o.lease;
    pc.grace = presence_options.grace;
    pc.nsp = presence_options.nsp;
    pc.webhooks = presence_options.webhooks;
    auto* nsp = &server.of(presence_options.nsp);
    auto org_broadcast = [nsp](const std::string& org, const std::string& user, const char* status) {
      boost::json::object body;
      body["user"] = user;
      body["status"] = status;
      body["org"] = org;
      nsp->to(org_room(org)).emit("presence", Args::of(body));
    };
    auto presence = std::make_shared<cluster::ClusterPresence>(std::move(pc), org_broadcast);
    Impl* impl = impl_.get();
    presence->on_fenced([impl] {
      std::set<std::string> nsps;
      {
        std::lock_guard lock(impl->nsps_mutex);
        nsps = impl->nsps;
      }
      spdlog::warn("cluster: node {} was fenced (its lease ran out and the cluster reaped it); "
                   "closing its clients, which reconnect to the node's new identity",
                   impl->options.node_id);
      BroadcastOperator::Target here;
      here.local = true;
      for (const auto& name : nsps) impl->server.of(name).target(here).disconnect_sockets(true);
    });
    server.observe_sockets(
        [impl, p = presence.get()](Socket& s) {
          if (s.user() == nullptr) return;
          {
            std::lock_guard lock(impl->nsps_mutex);
            impl->nsps.insert(s.nsp());
          }
          p->socket_connected(s);
        },
        [p = presence.get()](Socket& s, const std::string&) { p->socket_disconnected(s); });
    server.set_presence(presence);
    impl_->presence = std::move(presence);
    impl_->presence->start();
  }
}

Cluster::~Cluster() { stop(); }

void Cluster::stop() {
  if (impl_->presence) impl_->presence->stop();
  if (impl_->adapter) impl_->adapter->stop();
}

const std::string& Cluster::node_id() const noexcept { return impl_->options.node_id; }

}  // namespace rollcall
