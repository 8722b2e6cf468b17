// Helpers for the cluster tests: rollcalld nodes on one real Redis (on
// 127.0.0.1:$REDIS_PORT, started by the test command; the tests FAIL
// without it), each test with a key prefix and adapter key of its own.
//
//   const cl = await clusterKeys();                 // { port, prefix, adapterKey }
//   const a = await startNode(cl, "a", { receiver: rx });
//   const keys = await redisKeys(cl);               // every key under the prefix
//   await dropKeys(cl);

import assert from "node:assert/strict";

import { redisCommand, requireRedis, requireRedisPort } from "./resp.mjs";
import { presenceConfig, startRollcalld } from "./rollcalld.mjs";
import { freePort, pollUntil, withDeadline } from "./util.mjs";

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

/**
 * A Redis of the test's own on a free loopback port (no persistence), for
 * tests that stop, freeze or restart it. Resolves { port, url, stop(),
 * pause(), resume(), restart() }; restart() starts a new, empty one on the
 * same port (what a restart without persistence gives).
 */
export async function startPrivateRedis() {
  const { spawn } = await import("node:child_process");
  const port = await freePort();
  let proc = null;
  async function start() {
    proc = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    const started = proc;
    started.once("error", () => {});
    await pollUntil(
      () => redisCommand(port, ["PING"], { ms: 500 }).catch(() => null),
      (r) => r === "PONG",
      { ms: 10000, what: `redis-server on 127.0.0.1:${port}` },
    );
  }
  async function stop() {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const p = proc;
    const exited = new Promise((resolve) => p.once("exit", resolve));
    p.kill("SIGCONT");
    p.kill("SIGKILL");
    await withDeadline(exited, 5000, "redis-server to exit");
  }
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop,
    pause: () => proc.kill("SIGSTOP"),
    resume: () => proc.kill("SIGCONT"),
    async restart() {
      await stop();
      await start();
    },
  };
}

/**
 * Keys a cluster holds with no users: the counters, the lease table, each
 * live node's details and the webhook outbox (empty once delivered).
 */
export async function checkBaseline(cl, { dead = [] } = {}) {
  const live = await liveNodeKeys(cl);
  const allowed = new Set(
    ["seq", "epoch", "gen", "nodes", "outbox", "outbox:leader", "outbox:dead"].map((k) => `${cl.prefix}:${k}`),
  );
  for (const nk of live) allowed.add(`${cl.prefix}:node:${nk}`);
  const keys = await redisKeys(cl);
  const extra = keys.filter((k) => !allowed.has(k));
  assert.deepEqual(extra, [], `keys left behind under ${cl.prefix} (live nodes: ${live.join(", ")})`);
  const outbox = keys.includes(`${cl.prefix}:outbox`) ? await keyContents(cl, `${cl.prefix}:outbox`) : [];
  assert.deepEqual(outbox, [], "the webhook outbox is empty once everything was delivered");
  for (const k of keys) {
    const contents = [k, ...(await keyContents(cl, k))].map(String);
    for (const d of dead) {
      // "n#1" must not match the key "n#12" of a later start
      const names = new RegExp(`${d.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?!\\d)`);
      const hit = contents.find((s) => names.test(s));
      assert.equal(hit, undefined, `${k} still names the dead node ${d}: ${hit}`);
    }
  }
}


/**
 * A Node socket.io 4.8 server with the classic redis-adapter on `redisUrl`
 * with channel prefix `key` (lib/node-peer.mjs). Resolves { url, stop() }.
 */
export async function startNodePeer(redisUrl, key) {
  const { spawn } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const script = fileURLToPath(new URL("./node-peer.mjs", import.meta.url));
  const proc = spawn(process.execPath, [script, "--redis", redisUrl, "--key", key], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  const port = await withDeadline(
    new Promise((resolve, reject) => {
      let out = "";
      proc.stdout.setEncoding("utf8").on("data", (c) => {
        out += c;
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      exited.then((code) => reject(new Error(`node-peer exited (${code}): ${stderr}`)));
    }),
    10000,
    "the Node peer to listen",
  );
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await withDeadline(exited, 5000, "the Node peer to exit").catch(() => proc.kill("SIGKILL"));
    },
  };
}
