// Cluster presence (docs/cluster.md): three rollcalld processes on one real
// Redis, real socket.io-client connections spread over them, the webhook
// receiver as the witness. Per user, user.online and user.offline strictly
// alternate with a growing seq, each decided once for the cluster; a node
// that dies (SIGKILL) or freezes (SIGSTOP) past its lease is reaped by the
// others; a frozen node that wakes is fenced, closes its clients and joins
// again under a new identity; and once everyone has left, the keys under
// the prefix are what the live nodes hold with no users.
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";

import { checkBaseline, clusterKeys, dropKeys, liveNodeKeys, redisKeys, startNode } from "./lib/cluster.mjs";
import { api, tokenFor, userSocket, WEBHOOK_SECRET } from "./lib/rollcalld.mjs";
import { redisCommand } from "./lib/resp.mjs";
import { closeAll, once, pollUntil, waitConnected, withDeadline } from "./lib/server.mjs";
import { checkAlternating, checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const GRACE_MS = 400;
const LEASE_MS = 1500;
// From a node's death to the offline of its users: the lease, a sweep
// (at most 250 ms), the grace, delivery; generous for a loaded machine.
const REAP_MS = LEASE_MS + GRACE_MS + 8000;

/** Distinct delivered events per user. */
function byUser(rx) {
  const m = new Map();
  for (const e of rx.delivered()) {
    if (!m.has(e.user)) m.set(e.user, []);
    m.get(e.user).push(e);
  }
  return m;
}

describe("cluster presence: three rollcalld nodes on one Redis", () => {
  const cleanups = [];
  afterEach(async () => {
    await closeAll();
    while (cleanups.length) await cleanups.pop()();
  });
  after(closeAll);

  async function cluster(name, rx) {
    const cl = await clusterKeys(name);
    cleanups.push(() => dropKeys(cl));
    const nodes = [];
    for (const id of ["a", "b", "c"]) {
      const n = await startNode(cl, `${name}-${id}`, { receiver: rx, graceMs: GRACE_MS, leaseMs: LEASE_MS });
      cleanups.push(async () => {
        if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill("SIGCONT");
        await n.stop().catch(() => {});
        n.cleanup();
      });
      nodes.push(n);
    }
    await pollUntil(() => liveNodeKeys(cl), (k) => k.length === 3, { ms: 10000, what: "three live nodes" });
    return { cl, nodes };
  }

  it("500 users x 4 connections over 3 nodes, opened and closed at once, twice: one online and one offline per user and round", async () => {
    const USERS = 500;
    const TABS = 4;
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const { cl, nodes } = await cluster("churn", rx);
    const users = Array.from({ length: USERS }, (_, i) => `cu-${i}`);
    const tokens = users.map((u) => tokenFor(u, { orgs: [{ id: "cl", role: "member" }] }));
    const count = (type) => rx.delivered().filter((e) => e.type === type).length;

    for (let round = 1; round <= 2; round++) {
      const sockets = [];
      users.forEach((_, i) => {
        for (let t = 0; t < TABS; t++) sockets.push(userSocket(nodes[(i + t) % 3].url, tokens[i]));
      });
      await withDeadline(Promise.all(sockets.map((s) => waitConnected(s, 30000))), 32000, `round ${round}: connections`);
      await rx.waitFor(() => count("user.online") >= USERS * round, 20000, `round ${round}: ${USERS * round} user.online`);
      for (const s of sockets) s.disconnect();
      await rx.waitFor(() => count("user.offline") >= USERS * round, 20000, `round ${round}: ${USERS * round} user.offline`);
      await closeAll();
    }
    checkDeliveries(rx);
    const events = byUser(rx);
    for (const u of users) {
      const ev = events.get(u) ?? [];
      assert.equal(ev.length, 4, `${u}: online, offline, online, offline; got ${JSON.stringify(ev.map((e) => e.type))}`);
      checkAlternating(ev, { user: u });
    }
    // Nothing more comes (a late duplicate decision would show here).
    const total = rx.delivered().length;
    await pollUntil(async () => (await redisKeys(cl)).some((k) => k.includes(":u:")), (any) => !any, {
      ms: 5000,
      what: "no user hashes left",
    });
    assert.equal(rx.delivered().length, total);
    await checkBaseline(cl);
  });

  it("a tab closed on one node and reloaded onto another within the grace: no event; queries on any node show both nodes' connections", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const { nodes } = await cluster("grace", rx);
    const [A, B, C] = nodes;
    const token = tokenFor("grace-user", { orgs: [{ id: "grace-org", role: "member" }] });
    const tab1 = userSocket(A.url, token);
    const tab2 = userSocket(B.url, token);
    // A witness whose offline, later, proves that a sweep ran after the
    // closed tabs' grace would have ended.
    const witness = userSocket(A.url, tokenFor("grace-witness"));
    await Promise.all([waitConnected(tab1), waitConnected(tab2), waitConnected(witness)]);
    await rx.waitFor(
      () => rx.delivered("grace-user").length === 1 && rx.delivered("grace-witness").length === 1,
      10000,
      "online",
    );
    const { json } = await api(C, "/v1/presence/users/grace-user");
    assert.equal(json.connections, 2);
    assert.deepEqual(json.details.map((d) => d.node).sort(), ["grace-a", "grace-b"]);
    const org = await api(C, "/v1/presence/online?org=grace-org");
    assert.deepEqual(org.json.users.map((u) => u.user), ["grace-user"]);
    // Both tabs close; the reload lands on C well within the grace.
    tab1.disconnect();
    tab2.disconnect();
    const reload = userSocket(C.url, token);
    await waitConnected(reload);
    await pollUntil(() => api(A, "/v1/presence/users/grace-user"), (r) => r.json.connections === 1, {
      ms: 5000,
      what: "one connection left (on C)",
    });
    // Past the closed tabs' grace: still online, no event.
    witness.disconnect();
    await rx.waitFor(() => rx.delivered("grace-witness").length === 2, 10000, "the witness offline");
    assert.equal((await api(B, "/v1/presence/users/grace-user")).json.online, true);
    assert.deepEqual(rx.delivered("grace-user").map((e) => e.type), ["user.online"]);
    reload.disconnect();
    await rx.waitFor(() => rx.delivered("grace-user").length === 2, 10000, "offline after the last tab");
    checkAlternating(rx.delivered("grace-user"), { user: "grace-user" });
  });

  it("the node delivering the webhooks dies mid-delivery: another takes over and every transition arrives, per user in seq order", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET, delayMs: 400 });
    cleanups.push(() => rx.close());
    const { cl, nodes } = await cluster("leader", rx);
    const users = Array.from({ length: 60 }, (_, i) => `lu-${i}`);
    const sockets = users.map((u, i) => userSocket(nodes[i % 3].url, tokenFor(u)));
    await withDeadline(Promise.all(sockets.map((s) => waitConnected(s, 10000))), 12000, "connections");
    // The first (slow) delivery is in flight: kill the node that sends it.
    await rx.waitFor(() => rx.requests.length >= 1, 10000, "a delivery started");
    const owner = await redisCommand(cl.port, ["GET", `${cl.prefix}:outbox:leader`]);
    const leader = nodes.find((n, i) => String(owner).startsWith(`leader-${"abc"[i]}/`));
    assert.ok(leader, `a node leads (${owner})`);
    await leader.kill("SIGKILL");
    await rx.waitFor(() => users.every((u) => rx.delivered(u).length === 1), REAP_MS + 10000, "every user.online delivered");
    // The survivors' users leave; the dead node's are reaped.
    for (const s of sockets) s.disconnect();
    await rx.waitFor(() => users.every((u) => rx.delivered(u).length === 2), REAP_MS + 10000, "every user.offline delivered");
    checkDeliveries(rx, { allowRedelivery: true });
    for (const u of users) checkAlternating(rx.delivered(u), { user: u });
  });

  it("SIGKILL one node mid-churn, SIGSTOP another past its lease: offline once for users left with nothing, nothing for the others; the frozen node is fenced and rejoins", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const { cl, nodes } = await cluster("crash", rx);
    const [A, B, C] = nodes;
    const deadA = (await liveNodeKeys(cl)).filter((k) => k.startsWith("crash-a#"));
    const oldC = (await liveNodeKeys(cl)).filter((k) => k.startsWith("crash-c#"));
    assert.equal(deadA.length, 1);
    assert.equal(oldC.length, 1);

    const N = 30;
    const group = (name, where) =>
      Array.from({ length: N }, (_, i) => ({ user: `${name}-${i}`, where }));
    const onlyA = group("only-a", [A, A]);
    const aAndB = group("a-b", [A, B]);
    const onlyC = group("only-c", [C, C]);
    const cAndB = group("c-b", [C, B]);
    const steady = [...onlyA, ...aAndB, ...onlyC, ...cAndB];
    const sockets = new Map();
    await Promise.all(
      steady.map(async ({ user, where }) => {
        const token = tokenFor(user);
        const socks = where.map((n) => userSocket(n.url, token));
        sockets.set(user, socks);
        await Promise.all(socks.map((s) => waitConnected(s, 20000)));
      }),
    );
    await rx.waitFor(() => rx.delivered().length >= steady.length, 15000, "every steady user online");

    // Churn on A and B while A dies: users whose sockets come and go.
    const churners = Array.from({ length: N }, (_, i) => `churn-${i}`);
    const churn = churners.map(async (user) => {
      const token = tokenFor(user);
      for (let k = 0; k < 3; k++) {
        const socks = [userSocket(A.url, token), userSocket(B.url, token)];
        await Promise.allSettled(socks.map((s) => waitConnected(s, 5000)));
        for (const s of socks) s.disconnect();
      }
    });
    const killed = await A.kill("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    await withDeadline(Promise.all(churn), 30000, "the churn");

    // Users who had connections on A only: exactly one offline each.
    await rx.waitFor(
      () => onlyA.every(({ user }) => rx.delivered(user).some((e) => e.type === "user.offline")),
      REAP_MS,
      "user.offline for every user who was on the killed node only",
    );

    // Freeze C past its lease: its users are reaped like A's.
    C.proc.kill("SIGSTOP");
    await rx.waitFor(
      () => onlyC.every(({ user }) => rx.delivered(user).some((e) => e.type === "user.offline")),
      REAP_MS,
      "user.offline for every user who was on the frozen node only",
    );
    await pollUntil(() => liveNodeKeys(cl), (k) => !k.includes(oldC[0]), { ms: REAP_MS, what: "the frozen node reaped" });

    // Wake it: it finds itself fenced, closes its clients and joins again.
    const closedByC = [...onlyC, ...cAndB].map(({ user }) => sockets.get(user)[0]);
    const gone = Promise.all(closedByC.map((s) => (s.connected ? once(s, "disconnect", REAP_MS) : null)));
    C.proc.kill("SIGCONT");
    await withDeadline(gone, REAP_MS, "the woken node closing its clients");
    await pollUntil(
      () => liveNodeKeys(cl),
      (k) => k.some((nk) => nk.startsWith("crash-c#") && nk !== oldC[0]),
      { ms: REAP_MS, what: "the woken node registered under a new key" },
    );

    // Nothing for users still connected elsewhere; everyone else exactly once.
    for (const { user } of [...aAndB, ...cAndB]) {
      assert.deepEqual(
        rx.delivered(user).map((e) => e.type),
        ["user.online"],
        `${user} kept a connection on B: no offline`,
      );
    }
    for (const { user } of [...onlyA, ...onlyC]) {
      assert.deepEqual(rx.delivered(user).map((e) => e.type), ["user.online", "user.offline"], user);
    }

    // Everyone leaves: one offline each, then the keys are back to baseline.
    for (const socks of sockets.values()) for (const s of socks) s.disconnect();
    const everyone = [...steady.map((s) => s.user), ...churners];
    await rx.waitFor(
      () =>
        everyone.every((u) => {
          const ev = rx.delivered(u);
          return ev.length === 0 || ev[ev.length - 1].type === "user.offline";
        }),
      REAP_MS,
      "every user offline",
    );
    checkDeliveries(rx, { allowRedelivery: true });
    for (const u of everyone) checkAlternating(rx.delivered(u), { user: u });
    await pollUntil(async () => (await redisKeys(cl)).some((k) => k.includes(":u:")), (any) => !any, {
      ms: REAP_MS,
      what: "no user hashes left",
    });
    await checkBaseline(cl, { dead: [deadA[0], oldC[0]] });
    assert.equal((await liveNodeKeys(cl)).length, 2, "B and the new C");
    await B.stop();
    await C.stop();
  });
});
