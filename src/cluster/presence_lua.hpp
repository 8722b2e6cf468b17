// Cluster presence in Redis: the Lua scripts that decide every transition.
//
// Each script runs atomically in Redis, so the connects, disconnects, grace
// expiries and reaps of one user, wherever in the cluster they happen, are
// applied one after the other and each 0 -> 1 and 1 -> 0 of a user's
// connection count is seen by exactly one call. That call takes the next
// cluster-wide `seq`, writes the transition into the outbox stream in the
// same step, and returns it to its node, which announces it (org members,
// callbacks). Keys (P = [cluster] prefix; docs/cluster.md lists them):
//
//   P:seq            counter: the cluster's transition sequence
//   P:gen            string: the cluster's generation, new when Redis lost its data
//   P:epoch          counter: one epoch per node start
//   P:nodes          zset: live node keys ("<node_id>#<epoch>") -> lease expiry (ms)
//   P:node:<nk>      hash: a live node's details
//   P:nc:<nk>        set: the connections a node holds ("<socket id>\x1f<user>")
//   P:reaping        zset: dead nodes whose connections are being removed
//   P:reap:<nk>      set: what is left to remove of a dead node
//   P:u:<user>       hash: a user who is online or in grace: "!online",
//                    "!seq", "!since", "!n" (connections), "!name", "!orgs",
//                    and one field "c:<nk>:<socket id>" per connection
//   P:online         set: users online
//   P:org:<org>      set: users online in an org
//   P:grace          zset: users without connections -> when their grace ends
//   P:outbox         stream: transitions for the webhook sender (when on;
//                    stream_outbox.hpp delivers them)
//
// Every write checks that the caller's node key is still in P:nodes
// (fencing): a node that was reaped while frozen gets "fenced" and writes
// nothing. Times come from Redis (TIME), one clock for the cluster.
//
// `seq` never goes back: callers pass the highest seq they have seen as a
// floor, and a counter that is missing (a new cluster, or a Redis that lost
// its data) starts at max(floor, unix ms x 1000).
//
// The scripts build key names from the prefix, so they need one Redis (or
// a primary with replicas), not Redis Cluster.
#pragma once

#include <string>

namespace rollcall::cluster::lua {

// ARGV: prefix, node_id, lease_ms, details (JSON), generation
// Sets P:gen to `generation` when it is missing (a new cluster, or a Redis
// that lost its data).
// -> {node key, epoch, now_ms, the cluster's generation}
const std::string& register_node();

// ARGV: prefix, node key, lease_ms
// -> {"ok", now_ms} | {"fenced"}
const std::string& renew();

// ARGV: prefix, node key
// A node holding no connections is removed at once; otherwise its lease is
// marked as expired now and the next sweep anywhere reaps it.
// -> {"ok"} | {"fenced"}
const std::string& leave();

// ARGV: prefix, node key, user, socket id, connection (JSON), name,
//       orgs (JSON array of {"id","role"}), seq floor, event id,
//       outbox ("0": webhooks off, nothing is written to P:outbox)
// -> {"fenced"} | {"ok"} (no transition) |
//    {"ok", "online", seq, at_ms, connections}
const std::string& connect();

// ARGV: prefix, node key, user, socket id, connection (JSON), name,
//       orgs (JSON), seq floor
// After Redis lost its data: puts back a connection the node had
// confirmed. A user without state becomes online again WITHOUT a
// transition (it was online before the loss).
// -> {"fenced"} | {"ok"}
const std::string& restore();

// ARGV: prefix, node key, user, socket id, grace_ms
// -> {"fenced"} | {"ok", connections left}
const std::string& disconnect();

// ARGV: prefix, node key, grace_ms, seq floor, event id prefix,
//       max users per call, max reaped connections per call, outbox ("0": off)
// Reaps dead nodes (a chunk of connections per call), then ends the graces
// that are due.
// -> {"fenced"} | {"ok", more (0/1), reaped nodes, then per offline
//    transition: user, seq, at_ms, orgs (JSON), event id}
const std::string& sweep();

}  // namespace rollcall::cluster::lua
