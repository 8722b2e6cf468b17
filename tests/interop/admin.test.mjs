// The admin API (/v1/admin/..., admin.key) and the admin namespace
// /rollcall-admin with real socket.io-client processes: on one node (users
// paged, connection detail, disconnect, transitions, the webhook queue with
// dead letters retried) and on two nodes of a cluster on the test Redis
// (nodes, users and disconnects across nodes, transitions merged).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { clusterKeys, dropKeys, startNode } from "./lib/cluster.mjs";
import {
  api,
  apiRequest,
  closeSocket,
  connectUser,
  presenceConfig,
  startRollcalld,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { closeAll, expectConnectError, makeSocket, once, pollUntil, waitConnected } from "./lib/server.mjs";
import { startReceiver } from "./lib/webhook-receiver.mjs";

const ADMIN_KEY = "admin-key-for-the-interop-tests-0123";
const admin = (server, p, opts = {}) => api(server, p, { key: ADMIN_KEY, ...opts });
const adminPost = (server, p, body) => apiRequest(server, "POST", p, body, { key: ADMIN_KEY });

const servers = [];
after(async () => {
  await closeAll();
  for (const s of servers) await s.stop().catch(() => {});
  for (const s of servers) s.cleanup();
});

async function start(config, opts) {
  const s = await startRollcalld({ config, ...opts });
  servers.push(s);
  return s;
}

/**
 * Records `event`: latest(pred) waits until the newest one matches (counts
 * that change), find(pred) until any one does (each transition once).
 */
function recorder(socket, event) {
  const got = [];
  socket.on(event, (v) => got.push(v));
  return {
    all: () => got,
    latest: (pred, ms = 5000) =>
      pollUntil(() => got.at(-1), (v) => v !== undefined && pred(v), { ms, what: `a "${event}" ${pred}` }),
    find: (pred, ms = 5000) => pollUntil(() => got.find(pred), (v) => v !== undefined, { ms, what: `a "${event}" ${pred}` }),
    count: (n, ms = 5000) => pollUntil(() => got.length, (k) => k >= n, { ms, what: `${n} "${event}" events` }),
  };
}

/** The admin namespace with the key; records its stats and transition events. */
async function dashboard(server, key = ADMIN_KEY) {
  const socket = makeSocket(`${server.url}/rollcall-admin`, { auth: { key }, transports: ["websocket"] });
  const d = { socket, stats: recorder(socket, "stats"), transitions: recorder(socket, "transition") };
  await waitConnected(socket);
  return d;
}

describe("admin API on one node", () => {
  it("is off without admin.key: 403, no dashboard, the namespace refuses", async () => {
    const rc = await start(presenceConfig());
    const res = await admin(rc, "/v1/admin/stats");
    assert.equal(res.status, 403);
    assert.match(res.json.error, /admin\.key/);
    assert.equal((await api(rc, "/admin/", { key: null })).status, 404);
    const err = await expectConnectError(`${rc.url}/rollcall-admin`, { auth: { key: ADMIN_KEY }, transports: ["websocket"] });
    assert.match(err.message, /Invalid namespace|invalid admin key/);
  });

  it("refuses other keys (the API key too), pages users, shows connections, transitions and disconnects", async () => {
    const rc = await start(presenceConfig({ graceMs: 300, overrides: { admin: { key: ADMIN_KEY } } }));
    for (const key of [null, "wrong-key-wrong-key-wrong", presenceConfig().api.key]) {
      const res = await api(rc, "/v1/admin/stats", { key });
      assert.equal(res.status, 401, `key ${key}`);
    }
    const bad = await expectConnectError(`${rc.url}/rollcall-admin`, { auth: { key: "nope" }, transports: ["websocket"] });
    assert.equal(bad.message, "invalid admin key");
    assert.deepEqual(bad.data, { code: "invalid_admin_key" });

    const dash = await dashboard(rc);
    await dash.stats.latest((s) => s.online === 0 && s.connections === 0);

    const users = ["u1", "u2", "u3", "u4", "u5"];
    const sockets = [];
    for (const u of users) sockets.push(await connectUser(rc.url, tokenFor(u, { name: `User ${u}` })));
    const extra = await connectUser(rc.url, tokenFor("u3"), { transports: ["polling"] });
    // The dashboard is told: 5 users, 6 connections (its own socket is not one).
    await dash.stats.latest((s) => s.online === 5 && s.connections === 6);
    assert.deepEqual((await admin(rc, "/v1/admin/stats")).json.online, 5);
    await dash.transitions.count(5);
    assert.ok(dash.transitions.all().every((t) => t.type === "user.online"));

    // Pages of two, in id order, until next is null.
    const seen = [];
    let cursor = "";
    for (let i = 0; i < 10; i++) {
      const page = await admin(rc, `/v1/admin/users?online=true&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(page.status, 200, page.text);
      seen.push(...page.json.users.map((u) => u.user));
      if (page.json.next === null) break;
      cursor = encodeURIComponent(page.json.next);
    }
    assert.deepEqual(seen, users);
    assert.equal((await admin(rc, "/v1/admin/users?limit=0")).status, 400);
    assert.equal((await admin(rc, "/v1/admin/users?online=false")).status, 400);

    const u3 = await admin(rc, "/v1/admin/users/u3");
    assert.equal(u3.status, 200);
    assert.equal(u3.json.connections, 2);
    assert.deepEqual(u3.json.details.map((d) => d.transport).sort(), ["polling", "websocket"]);
    assert.ok(u3.json.details.every((d) => d.address === "127.0.0.1" && d.nsp === "/"));
    assert.equal((await admin(rc, "/v1/admin/users/nobody")).status, 404);

    const nodes = (await admin(rc, "/v1/admin/nodes")).json.nodes;
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].self, true);
    assert.equal(nodes[0].connections, 6);

    // Disconnect: a Socket.IO disconnect (the client does not reconnect).
    const gone = [once(sockets[2], "disconnect"), once(extra, "disconnect")];
    const res = await adminPost(rc, "/v1/admin/users/u3/disconnect");
    assert.equal(res.status, 202, res.text);
    for (const [reason] of await Promise.all(gone)) assert.equal(reason, "io server disconnect");
    const offline = await dash.transitions.find((t) => t.type === "user.offline" && t.user === "u3");
    const list = (await admin(rc, "/v1/admin/transitions?limit=3")).json.transitions;
    assert.equal(list.length, 3);
    assert.deepEqual([list[0].id, list[0].type, list[0].user], [offline.id, "user.offline", "u3"]);
    assert.ok(list[0].seq > list[1].seq && list[1].seq > list[2].seq, "newest first");
    // Every transition reached the dashboard once.
    assert.equal(new Set(dash.transitions.all().map((t) => t.id)).size, dash.transitions.all().length);
    await dash.stats.latest((s) => s.online === 4 && s.connections === 4);
    for (const s of sockets) await closeSocket(s);
  });

  it("shows the webhook queue, dead letters, and sends them again on retry", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET, status: 500 });
    try {
      const config = presenceConfig({ receiver: rx, graceMs: 200, overrides: { admin: { key: ADMIN_KEY } } });
      config.webhooks.max_age_s = 1;  // failing events are dead-lettered after a second
      const rc = await start(config);
      const s = await connectUser(rc.url, tokenFor("hooked"));
      await closeSocket(s);
      const dead = await pollUntil(
        () => admin(rc, "/v1/admin/webhooks"),
        (r) => r.json?.dead === 2 && r.json.pending === 0,
        { ms: 15000, what: "both transitions dead-lettered" },
      );
      assert.equal(dead.json.enabled, true);
      assert.equal(dead.json.deadLetters.length, 2);
      assert.ok(dead.json.deadLetters.every((d) => d.user === "hooked" && d.attempts >= 1 && /HTTP 500/.test(d.reason)));
      const ids = dead.json.deadLetters.map((d) => d.id).sort();

      rx.respondWith(200);
      const retried = await adminPost(rc, "/v1/admin/webhooks/dead/retry");
      assert.equal(retried.status, 200, retried.text);
      assert.equal(retried.json.retried, 2);
      await rx.waitFor((r) => r.delivered("hooked").length === 2, 10000, "the retried events");
      assert.deepEqual(rx.delivered("hooked").map((e) => e.id).sort(), ids);
      const after = await pollUntil(
        () => admin(rc, "/v1/admin/webhooks"),
        (r) => r.json?.pending === 0 && r.json.dead === 0,
        { ms: 5000, what: "the queue empty again" },
      );
      assert.equal(after.json.oldest, null);
    } finally {
      await rx.close();
    }
  });
});

describe("admin API in a cluster", () => {
  it("any node sees every node, every user, and disconnects on the others", async () => {
    const cl = await clusterKeys("admin");
    try {
      const overrides = { admin: { key: ADMIN_KEY } };
      const a = await startNode(cl, "a", { overrides });
      const b = await startNode(cl, "b", { overrides });
      servers.push(a, b);
      const dash = await dashboard(b);
      const onA = await connectUser(a.url, tokenFor("ann"));
      const onB = await connectUser(b.url, tokenFor("ann"));
      const bob = await connectUser(a.url, tokenFor("bob"));
      await dash.stats.latest((s) => s.online === 2 && s.connections === 3, 8000);

      const nodes = (await admin(b, "/v1/admin/nodes")).json.nodes;
      const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
      assert.deepEqual(Object.keys(byId).sort(), ["a", "b"]);
      assert.equal(byId.a.connections, 2);
      assert.equal(byId.b.connections, 1);
      assert.equal(byId.b.self, true);
      assert.ok(byId.a.leaseAgeMs >= 0 && byId.a.leaseAgeMs < 1500, JSON.stringify(byId.a));

      const listed = (await admin(b, "/v1/admin/users?limit=100")).json.users.map((u) => u.user).sort();
      assert.deepEqual(listed, ["ann", "bob"]);
      const ann = (await admin(b, "/v1/admin/users/ann")).json;
      assert.deepEqual(ann.details.map((d) => d.node).sort(), ["a", "b"]);

      // Disconnected from b, on a too.
      const gone = [once(onA, "disconnect"), once(onB, "disconnect")];
      assert.equal((await adminPost(b, "/v1/admin/users/ann/disconnect")).status, 202);
      for (const [reason] of await Promise.all(gone)) assert.equal(reason, "io server disconnect");
      await dash.transitions.find((t) => t.user === "ann" && t.type === "user.offline", 8000);

      // Transitions decided on either node, merged newest first, each once.
      const list = await pollUntil(
        () => admin(b, "/v1/admin/transitions"),
        (r) => r.json?.transitions?.length === 3,
        { ms: 5000, what: "three transitions from both nodes" },
      );
      const t = list.json.transitions;
      assert.deepEqual(t.map((x) => `${x.user}:${x.type}`).sort(), ["ann:user.offline", "ann:user.online", "bob:user.online"]);
      assert.equal(`${t[0].user}:${t[0].type}`, "ann:user.offline");
      assert.ok(t[0].seq > t[1].seq && t[1].seq > t[2].seq);
      assert.equal(new Set(t.map((x) => x.id)).size, 3);
      await closeSocket(bob);
    } finally {
      await dropKeys(cl);
    }
  });
});
