// Helpers for the cluster tests: rollcalld nodes on one real Redis (on
// 127.0.0.1:$REDIS_PORT, started by the test command; the tests FAIL
// without it), each test with a key prefix and adapter key of its own.
//
//   const cl = await clusterKeys();                 // { port, prefix, adapterKey }
//   const a = await startNode(cl, "a", { receiver: rx });
//   const keys = await redisKeys(cl);               // every key under the prefix
//   await dropKeys(cl);

import { redisCommand, requireRedis, requireRedisPort } from "./resp.mjs";
import { presenceConfig, startRollcalld } from "./rollcalld.mjs";

let counter = 0;

/** A fresh prefix and adapter key on the test Redis (which must answer). */
export async function clusterKeys(name = "cluster") {
  const port = requireRedisPort();
  await requireRedis(port);
  const tag = `${name}-${process.pid}-${++counter}`;
  return { port, prefix: `rollcall-it:${tag}`, adapterKey: `sio-it:${tag}`, redisUrl: `redis://127.0.0.1:${port}/0` };
}

/**
 * Starts rollcalld node `id` of the cluster: the usual test config
 * (presenceConfig) plus the [cluster] table. `cluster` overrides keys of
 * that table (lease_ms, ...).
 */
export function startNode(cl, id, { receiver = null, graceMs = 400, leaseMs = 1500, overrides = {}, cluster = {} } = {}) {
  const config = presenceConfig({
    receiver,
    graceMs,
    overrides: {
      ...overrides,
      cluster: {
        redis_url: cl.redisUrl,
        node_id: id,
        lease_ms: leaseMs,
        prefix: cl.prefix,
        adapter_key: cl.adapterKey,
        ...cluster,
      },
    },
  });
  return startRollcalld({ config });
}

/** Every key under the cluster's prefix, sorted. */
export async function redisKeys(cl) {
  const keys = await redisCommand(cl.port, ["KEYS", `${cl.prefix}:*`]);
  return keys.sort();
}

/** Every string a key holds (members, fields, values), for "names a dead node" checks. */
export async function keyContents(cl, key) {
  const type = await redisCommand(cl.port, ["TYPE", key]);
  switch (type) {
    case "string":
      return [await redisCommand(cl.port, ["GET", key])];
    case "hash":
      return redisCommand(cl.port, ["HGETALL", key]);
    case "set":
      return redisCommand(cl.port, ["SMEMBERS", key]);
    case "zset":
      return redisCommand(cl.port, ["ZRANGE", key, "0", "-1"]);
    case "list":
      return redisCommand(cl.port, ["LRANGE", key, "0", "-1"]);
    case "stream": {
      const entries = await redisCommand(cl.port, ["XRANGE", key, "-", "+"]);
      return entries.flatMap(([id, fields]) => [id, ...fields]);
    }
    default:
      return [];
  }
}

/** Deletes every key under the cluster's prefix. */
export async function dropKeys(cl) {
  for (const k of await redisKeys(cl)) await redisCommand(cl.port, ["DEL", k]);
}

/** The live node keys ("<node_id>#<epoch>") in the cluster's lease table. */
export async function liveNodeKeys(cl) {
  return redisCommand(cl.port, ["ZRANGE", `${cl.prefix}:nodes`, "0", "-1"]);
}
