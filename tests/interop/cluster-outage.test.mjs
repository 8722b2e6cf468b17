// The cluster's Redis fails (docs/cluster.md, "Redis unavailable" and
// "Redis lost its data"): two rollcalld nodes on a Redis of the test's own,
// which is frozen past the lease, then restarted empty. The nodes keep
// serving their clients, presence queries say they cannot answer, and when
// Redis is back users who stayed connected get no event while the changes
// made meanwhile are announced once, in order, with seq still growing.
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";

import { checkBaseline, liveNodeKeys, redisKeys, startNode, startPrivateRedis } from "./lib/cluster.mjs";
import { api, tokenFor, userSocket, WEBHOOK_SECRET } from "./lib/rollcalld.mjs";
import { ackWithin, closeAll, elapse, pollUntil, waitConnected } from "./lib/server.mjs";
import { checkAlternating, checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const GRACE_MS = 400;
const LEASE_MS = 1500;
const EVENT_MS = LEASE_MS + GRACE_MS + 8000;

describe("cluster: Redis unavailable", () => {
  const cleanups = [];
  afterEach(async () => {
    await closeAll();
    while (cleanups.length) await cleanups.pop()();
  });
  after(closeAll);

  async function setup(name) {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const cl = { port: redis.port, prefix: `rollcall-it:${name}`, adapterKey: `sio-it:${name}`, redisUrl: redis.url };
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const nodes = [];
    for (const id of ["a", "b"]) {
      const n = await startNode(cl, `${name}-${id}`, { receiver: rx, graceMs: GRACE_MS, leaseMs: LEASE_MS });
      cleanups.push(async () => {
        await n.stop().catch(() => {});
        n.cleanup();
      });
      nodes.push(n);
    }
    await pollUntil(() => liveNodeKeys(cl), (k) => k.length === 2, { ms: 10000, what: "two live nodes" });
    return { redis, cl, rx, nodes };
  }

  async function user(name, nodes) {
    const token = tokenFor(name, { orgs: [{ id: "outage", role: "member" }] });
    const socks = nodes.map((n) => userSocket(n.url, token));
    await Promise.all(socks.map((s) => waitConnected(s, 10000)));
    return socks;
  }

  /** Both scenarios: what happens around the outage, and what must follow. */
  async function scenario({ name, outage }) {
    const { redis, cl, rx, nodes } = await setup(name);
    const [A, B] = nodes;
    const stays = await user(`${name}-stays`, [A, B]);
    const staysA = await user(`${name}-stays-a`, [A]);
    const leaves = await user(`${name}-leaves`, [B]);
    await rx.waitFor(() => rx.delivered().length === 3, EVENT_MS, "three users online");
    const before = Math.max(...rx.delivered().map((e) => e.seq));

    const back = await outage(redis);

    // Clients keep being served; presence says it cannot answer.
    await pollUntil(
      () => api(A, `/v1/presence/users/${name}-stays`, { ms: 8000 }),
      (r) => r.status === 503,
      { ms: 10000, what: "503 from the presence API while Redis is out" },
    );
    const [list] = await ackWithin(stays[0], 8000, "presence:list");
    assert.match(list.error ?? "", /unavailable/, JSON.stringify(list));
    // The readiness probe names Redis.
    const ready = await api(A, "/readyz", { key: null, ms: 8000 });
    assert.equal(ready.status, 503, ready.text);
    assert.ok(ready.json.failing.some((f) => f.dependency === "redis"), ready.text);
    // Changes while Redis is out.
    leaves[0].disconnect();
    await user(`${name}-new`, [A]);
    await elapse(2 * LEASE_MS, "Redis out for longer than the lease");
    await back(redis);

    // The changes arrive, once; nothing for those who stayed.
    await rx.waitFor(
      () =>
        rx.delivered(`${name}-new`).length === 1 &&
        rx.delivered(`${name}-leaves`).some((e) => e.type === "user.offline"),
      EVENT_MS,
      "the new user's online and the leaver's offline",
    );
    await pollUntil(() => api(A, `/v1/presence/users/${name}-stays`), (r) => r.status === 200 && r.json.online, {
      ms: EVENT_MS,
      what: "presence answering again",
    });
    assert.equal((await api(B, `/v1/presence/users/${name}-stays`)).json.connections, 2);
    assert.equal((await api(B, `/v1/presence/users/${name}-stays-a`)).json.connections, 1);
    for (const u of [`${name}-stays`, `${name}-stays-a`]) {
      assert.deepEqual(rx.delivered(u).map((e) => e.type), ["user.online"], `${u} stayed connected: no event`);
    }
    const meanwhile = rx
      .delivered()
      .filter((e) => e.user.endsWith("-new") || (e.user.endsWith("-leaves") && e.type === "user.offline"));
    for (const e of meanwhile) assert.ok(e.seq > before, `seq ${e.seq} after the outage is above ${before}`);

    // Everyone leaves: one offline each, and nothing is left behind.
    for (const s of [...stays, ...staysA]) s.disconnect();
    await closeAll();
    const users = ["stays", "stays-a", "leaves", "new"].map((u) => `${name}-${u}`);
    await rx.waitFor(
      () => users.every((u) => rx.delivered(u).at(-1)?.type === "user.offline"),
      EVENT_MS,
      "everyone offline",
    );
    checkDeliveries(rx, { allowRedelivery: true });
    for (const u of users) checkAlternating(rx.delivered(u), { user: u });
    await pollUntil(
      async () => (await redisKeys(cl)).filter((k) => k.includes(":u:") || k.endsWith(":grace")),
      (left) => left.length === 0,
      { ms: EVENT_MS, what: "no user state left" },
    );
    await checkBaseline(cl);
  }

  it("Redis frozen past the lease: no node is reaped, users who stayed get nothing, changes made meanwhile are announced after", async () => {
    await scenario({
      name: "frozen",
      outage: async (redis) => {
        redis.pause();
        return (r) => r.resume();
      },
    });
  });

  it("Redis restarted empty: the nodes put their connections back without events and seq keeps growing", async () => {
    await scenario({
      name: "restarted",
      outage: async (redis) => {
        await redis.stop();
        return (r) => r.restart();
      },
    });
  });
});
