// Organisation notifications (docs/notifications.md) on one node: HTTP and
// PostgreSQL ingest (NOTIFY, the outbox table, a crash while rows arrive),
// delivery to every tab of each recipient once, role-filtered detail,
// history with a stable cursor, read state synced across tabs, and a
// user's history closed to everyone else. A real PostgreSQL (PG_PORT) and
// real socket.io-client processes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { freshDatabase, literal, outboxRows, psql, waitForOutboxTable } from "./lib/pg.mjs";
import {
  api,
  apiRequest,
  connectUser,
  presenceConfig,
  restartRollcalld,
  startRollcalld,
  tokenFor,
} from "./lib/rollcalld.mjs";
import { execFile } from "node:child_process";
import path from "node:path";

import { ackWithin, closeAll, expectNoEvent, once, pollUntil, recordEvents, startServer, WAIT_MS } from "./lib/server.mjs";
import { tempDir } from "./lib/rollcalld.mjs";


const ACME = [{ id: "acme", role: "admin" }];

function body(audience, extra = {}) {
  return { audience, type: "order.placed", data: { n: 1 }, ...extra };
}

async function history(socket, args = {}) {
  const [res] = await ackWithin(socket, WAIT_MS, "notifications:list", args);
  assert.ok(!res.error, JSON.stringify(res));
  return res;
}

describe("notifications on one node", () => {
  let db;
  let rc;
  const channel = `rc_it_${process.pid}`;

  before(async () => {
    db = await freshDatabase("notify");
    rc = await startRollcalld({
      config: presenceConfig({ overrides: { notifications: { postgres_url: db.url, channel } } }),
    });
    // The outbox table is made at start: wait for it.
    await waitForOutboxTable(db);
  });
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
    await db?.drop();
  });

  it("reaches every tab of each recipient once, with the detail only for the allowed roles", async () => {
    const ann = [
      await connectUser(rc.url, tokenFor("n-ann", { orgs: [{ id: "n-acme", role: "admin" }, { id: "n-beta", role: "viewer" }] })),
      await connectUser(rc.url, tokenFor("n-ann", { orgs: [{ id: "n-acme", role: "admin" }, { id: "n-beta", role: "viewer" }] })),
    ];
    const bob = await connectUser(rc.url, tokenFor("n-bob", { orgs: [{ id: "n-acme", role: "dev" }] }));
    const carl = await connectUser(rc.url, tokenFor("n-carl", { orgs: [{ id: "n-beta", role: "order-desk" }] }));
    const stranger = await connectUser(rc.url, tokenFor("n-zed", { orgs: [{ id: "n-other", role: "admin" }] }));
    // An offline member, known from the API only.
    const put = await apiRequest(rc, "PUT", "/v1/orgs/n-acme/members/n-dora", { role: "admin" });
    assert.equal(put.status, 200, put.text);
    // Memberships from tokens are written on connect: wait until the directory shows them.
    await pollUntil(
      async () => (await api(rc, "/v1/orgs/n-acme/members")).json,
      (j) => j?.members?.length === 3,
      { what: "n-acme's members from the tokens" },
    );
    const logs = [...ann, bob, carl].map((s) => recordEvents(s, "notification"));
    const zed = expectNoEvent(stranger, "notification", 500);
    const res = await apiRequest(rc, "POST", "/v1/notifications", {
      audience: { users: ["n-ann", "n-carl"], orgs: ["n-acme"], roles: [{ org: "n-beta", role: "viewer" }] },
      type: "order.placed",
      data: { order: 7 },
      detail: { price: 12 },
      detail_roles: ["admin", "order-desk"],
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.recipients, 4); // ann, bob, carl, dora: ann named three times
    assert.ok(Number.isInteger(res.json.id));
    for (const log of logs) await log.waitFor(1);
    await elapseQuiet(300);
    for (const log of logs) assert.equal(log.length, 1, "exactly once per tab");
    const [annSeen] = logs[0];
    assert.equal(annSeen[0].id, res.json.id);
    assert.equal(annSeen[0].type, "order.placed");
    assert.deepEqual(annSeen[0].data, { order: 7 });
    assert.equal(annSeen[0].read, false);
    assert.match(annSeen[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(annSeen[0].detail, { price: 12 }); // admin in n-acme
    assert.equal("detail" in logs[2][0][0], false); // bob: dev
    assert.deepEqual(logs[3][0][0].detail, { price: 12 }); // carl: order-desk in n-beta
    await zed;
    // The offline member finds it in the history, with the detail.
    const dora = await api(rc, "/v1/users/n-dora/notifications");
    assert.equal(dora.status, 200);
    assert.equal(dora.json.items.length, 1);
    assert.deepEqual(dora.json.items[0].detail, { price: 12 });
    assert.equal(dora.json.unread, 1);
    // History items follow the same rule as the live event.
    const bobHistory = await history(bob);
    assert.equal(bobHistory.items.length, 1);
    assert.equal("detail" in bobHistory.items[0], false);
  });

  it("refuses each bad field with a 400 naming it, and stores nothing", async () => {
    const before = (await api(rc, "/v1/users/n-bad/notifications")).json.items.length;
    const cases = [
      ["{", "not JSON"],
      [[], "JSON object"],
      [{ type: "t", data: 1 }, "audience"],
      [{ audience: {}, type: "t", data: 1 }, "audience: names nobody"],
      [{ audience: { users: "n-bad" }, type: "t", data: 1 }, "audience.users"],
      [{ audience: { users: [""] }, type: "t", data: 1 }, "audience.users[0]"],
      [{ audience: { orgs: [1] }, type: "t", data: 1 }, "audience.orgs[0]"],
      [{ audience: { roles: [{ org: "a" }] }, type: "t", data: 1 }, "audience.roles[0].role"],
      [{ audience: { roles: [{ org: "a", role: "r", x: 1 }] }, type: "t", data: 1 }, "audience.roles[0]: unknown field 'x'"],
      [{ audience: { users: ["n-bad"], groups: [] }, type: "t", data: 1 }, "audience: unknown field 'groups'"],
      [{ audience: { users: ["n-bad"] }, data: 1 }, "type"],
      [{ audience: { users: ["n-bad"] }, type: "", data: 1 }, "type"],
      [{ audience: { users: ["n-bad"] }, type: "t" }, "data"],
      [{ audience: { users: ["n-bad"] }, type: "t", data: 1, detail: 1, detail_roles: "admin" }, "detail_roles"],
      [{ audience: { users: ["n-bad"] }, type: "t", data: 1, detail_roles: ["admin"] }, "detail_roles"],
      [{ audience: { users: ["n-bad"] }, type: "t", data: 1, extra: 1 }, "unknown field 'extra'"],
    ];
    for (const [b, field] of cases) {
      const res = await apiRequest(rc, "POST", "/v1/notifications", b);
      assert.equal(res.status, 400, `${JSON.stringify(b)} -> ${res.status} ${res.text}`);
      assert.ok(res.json.error.includes(field), `${JSON.stringify(b)}: ${res.json.error} should name ${field}`);
    }
    assert.equal((await apiRequest(rc, "POST", "/v1/notifications", body({ users: ["x"] }), { key: "wrong-key-wrong-key" })).status, 401);
    assert.equal((await api(rc, "/v1/users/n-bad/notifications")).json.items.length, before);
  });

  it("publishes a JSON body sent with NOTIFY", async () => {
    const s = await connectUser(rc.url, tokenFor("n-notify"));
    const got = once(s, "notification");
    const payload = JSON.stringify(body({ users: ["n-notify"] }, { data: { via: "notify" } }));
    await psql(db, `select pg_notify(${literal(channel)}, ${literal(payload)})`);
    const [n] = await got;
    assert.deepEqual(n.data, { via: "notify" });
  });

  it("reads the outbox: a body over 8000 bytes, malformed rows set aside between good ones, in order", async () => {
    const s = await connectUser(rc.url, tokenFor("n-outbox"));
    const log = recordEvents(s, "notification");
    const big = "x".repeat(20000);
    const rows = [
      body({ users: ["n-outbox"] }, { data: { i: 0 } }),
      { audience: { users: ["n-outbox"] }, data: { i: "no type" } },
      body({ users: ["n-outbox"] }, { data: { i: 1, big } }),
      { nonsense: true },
      body({ users: ["n-outbox"] }, { data: { i: 2 } }),
    ];
    const values = rows.map((r) => `(${literal(JSON.stringify(r))}::jsonb)`).join(",");
    await psql(db, `insert into rollcall_outbox (payload) values ${values}`);
    await log.waitFor(3);
    const seen = log.map(([n]) => n.data.i);
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(log[1][0].data.big.length, 20000);
    const dead = await psql(db, "select outbox_id, error from rollcall_outbox_dead where outbox_id is not null order by outbox_id");
    assert.equal(dead.length, 2, JSON.stringify(dead));
    assert.match(dead[0][1], /type/);
    assert.match(dead[1][1], /unknown field 'nonsense'/);
    await pollUntil(() => psql(db, "select count(*) from rollcall_outbox"), (r) => r[0][0] === "0", { what: "an empty outbox" });
  });

  it("keeps history pages stable over 1,000 items while new ones arrive", async () => {
    const user = "n-pages";
    await psql(db, outboxRows(user, 1, 1000, "bulk"));
    const s = await connectUser(rc.url, tokenFor(user));
    await pollUntil(() => history(s, { limit: 1 }), (h) => h.unread === 1000, { ms: 30000, what: "1,000 stored" });
    const seen = [];
    let beforeId;
    let arrived = 0;
    for (;;) {
      const page = await history(s, { limit: 200, ...(beforeId ? { before: beforeId } : {}) });
      seen.push(...page.items.map((n) => n.data.i));
      // A new one between pages: it is newer than the cursor, so it never shows below it.
      const res = await apiRequest(rc, "POST", "/v1/notifications", body({ users: [user] }, { data: { i: `new-${arrived++}` } }));
      assert.equal(res.status, 201);
      if (page.next === null) break;
      beforeId = page.next;
    }
    assert.equal(seen.length, 1000);
    assert.deepEqual(seen, Array.from({ length: 1000 }, (_, k) => 1000 - k));
    const first = await history(s, { limit: 3 });
    assert.deepEqual(first.items.map((n) => n.data.i), [`new-${arrived - 1}`, `new-${arrived - 2}`, `new-${arrived - 3}`]);
    assert.equal(first.unread, 1000 + arrived);
    const capped = await history(s, { limit: 5000 });
    assert.equal(capped.items.length, 200, "limit is capped at 200");
  });

  it("syncs read state across a user's tabs, and from the HTTP API", async () => {
    const user = "n-tabs";
    const tabs = [await connectUser(rc.url, tokenFor(user)), await connectUser(rc.url, tokenFor(user)), await connectUser(rc.url, tokenFor(user))];
    const ids = [];
    for (let i = 0; i < 3; ++i) {
      const got = once(tabs[0], "notification");
      ids.push((await apiRequest(rc, "POST", "/v1/notifications", body({ users: [user] }))).json.id);
      await got;
    }
    const others = [once(tabs[1], "notifications:read"), once(tabs[2], "notifications:read")];
    const notAsker = expectNoEvent(tabs[0], "notifications:read", 500);
    const [ack] = await ackWithin(tabs[0], WAIT_MS, "notifications:read", { ids: [ids[0]] });
    assert.deepEqual(ack, { unread: 2 });
    for (const p of others) assert.deepEqual((await p)[0], { ids: [ids[0]], unread: 2 });
    await notAsker;
    const h = await history(tabs[1]);
    assert.deepEqual(h.items.map((n) => n.read), [false, false, true]);

    const all = tabs.map((t) => once(t, "notifications:read"));
    const res = await apiRequest(rc, "POST", `/v1/users/${user}/notifications/read`, { all: true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { all: true, unread: 0 });
    for (const p of all) assert.deepEqual((await p)[0], { all: true, unread: 0 });
  });

  it("keeps a user's history closed to everyone else (try it)", async () => {
    const victim = await connectUser(rc.url, tokenFor("n-victim"));
    const got = once(victim, "notification");
    const { id } = (await apiRequest(rc, "POST", "/v1/notifications", body({ users: ["n-victim"] }, { data: { secret: "s3" } }))).json;
    await got;
    const thief = await connectUser(rc.url, tokenFor("n-thief"));
    // Listing: no way to name another user; extra fields are ignored.
    const list = await history(thief, { user: "n-victim", userId: "n-victim", before: id + 1 });
    assert.deepEqual(list.items, []);
    // Marking: ids that are not the caller's are ignored, and nobody is told.
    const told = expectNoEvent(victim, "notifications:read", 500);
    const [ack] = await ackWithin(thief, WAIT_MS, "notifications:read", { ids: [id], user: "n-victim" });
    assert.deepEqual(ack, { unread: 0 });
    await told;
    const v = await history(victim);
    assert.equal(v.items[0].read, false);
    assert.equal(v.unread, 1);
    // Bad arguments are answered, not ignored.
    const [bad] = await ackWithin(thief, WAIT_MS, "notifications:read", { ids: ["1"] });
    assert.match(bad.error, /ids/);
    // Anonymous and unauthenticated callers have no API.
    assert.equal((await api(rc, "/v1/users/n-victim/notifications", { key: null })).status, 401);
  });

  it("manages memberships over HTTP: PUT, GET, DELETE, with clear errors", async () => {
    assert.equal((await apiRequest(rc, "PUT", "/v1/orgs/n-mgmt/members/u1", { role: "admin" })).status, 200);
    assert.equal((await apiRequest(rc, "PUT", "/v1/orgs/n-mgmt/members/u2", { role: "dev" })).status, 200);
    assert.equal((await apiRequest(rc, "PUT", "/v1/orgs/n-mgmt/members/u2", { role: "owner" })).status, 200);
    const list = await api(rc, "/v1/orgs/n-mgmt/members");
    assert.deepEqual(list.json, { org: "n-mgmt", members: [{ user: "u1", role: "admin" }, { user: "u2", role: "owner" }] });
    const bad = await apiRequest(rc, "PUT", "/v1/orgs/n-mgmt/members/u3", { rank: 1 });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /role/);
    assert.equal((await apiRequest(rc, "DELETE", "/v1/orgs/n-mgmt/members/u1")).status, 200);
    assert.equal((await apiRequest(rc, "DELETE", "/v1/orgs/n-mgmt/members/u1")).status, 404);
    assert.equal((await apiRequest(rc, "POST", "/v1/orgs/n-mgmt/members")).status, 405);
    // A role audience reaches the members with that role only.
    const res = await apiRequest(rc, "POST", "/v1/notifications", body({ roles: [{ org: "n-mgmt", role: "owner" }] }));
    assert.equal(res.json.recipients, 1);
  });
});

describe("the outbox through a crash", () => {
  let db;
  let rc;
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
    await db?.drop();
  });

  it("delivers every row exactly once when rollcalld is SIGKILLed and restarted while rows are inserted", async () => {
    db = await freshDatabase("crash");
    const channel = `rc_crash_${process.pid}`;
    rc = await startRollcalld({
      config: presenceConfig({ overrides: { notifications: { postgres_url: db.url, channel } } }),
    });
    await waitForOutboxTable(db);
    const user = "n-crash";
    const total = 400;
    let next = 0;
    const insert = async (n) => {
      const from = next;
      next += n;
      await psql(db, outboxRows(user, from, n, "crash"));
    };
    // Rows one statement at a time while the server works, killed mid-way.
    for (let i = 0; i < 10; ++i) await insert(10);
    await rc.kill("SIGKILL");
    for (let i = 0; i < 10; ++i) await insert(10); // nobody listens now
    rc = await restartRollcalld(rc);
    for (let i = 0; i < 10; ++i) await insert(10);
    await rc.kill("SIGKILL");
    rc = await restartRollcalld(rc);
    for (let i = 0; i < 10; ++i) await insert(10);
    assert.equal(next, total);
    await pollUntil(() => psql(db, "select count(*) from rollcall_outbox"), (r) => r[0][0] === "0", {
      ms: 30000,
      what: "the outbox drained",
    });
    const all = [];
    let beforeId;
    for (;;) {
      const q = beforeId ? `?limit=200&before=${beforeId}` : "?limit=200";
      const page = (await api(rc, `/v1/users/${user}/notifications${q}`)).json;
      all.push(...page.items.map((n) => n.data.i));
      if (page.next === null) break;
      beforeId = page.next;
    }
    assert.equal(all.length, total, "nothing lost, nothing twice");
    assert.deepEqual([...all].reverse(), Array.from({ length: total }, (_, i) => i), "in row order");
  });
});

describe("anonymous sockets", () => {
  let rc;
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
  });

  it("are answered that they have no notifications", async () => {
    rc = await startRollcalld({ config: presenceConfig({ overrides: { auth: { allow_anonymous: true } } }) });
    const s = await connectUser(rc.url, undefined);
    const [list] = await ackWithin(s, WAIT_MS, "notifications:list", {});
    assert.match(list.error, /anonymous/);
    const [read] = await ackWithin(s, WAIT_MS, "notifications:read", { all: true });
    assert.match(read.error, /anonymous/);
  });
});

describe("the demo (rollcalld --demo, scripts/demo-order.sh)", () => {
  let rc;
  after(async () => {
    await closeAll();
    await rc?.stop();
  });

  it("tells both organisations of Minnie's order, with the detail for admins and the order desk only", async () => {
    rc = await startServer({ bin: "rollcalld", args: ["--demo", "--data-dir", tempDir()] });
    // Minnie and Bugs are online in a tab: the order lands there live.
    const minnie = await connectUser(rc.url, tokenFor("minnie", { secret: "rollcall-demo-secret", orgs: [{ id: "disney", role: "order-desk" }] }));
    const bugs = await connectUser(rc.url, tokenFor("bugs", { secret: "rollcall-demo-secret", orgs: [{ id: "looney-tunes", role: "developer" }] }));
    const live = [once(minnie, "notification"), once(bugs, "notification")];
    const script = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "../../scripts/demo-order.sh");
    const out = await new Promise((resolve, reject) =>
      execFile("bash", [script, rc.base], { timeout: WAIT_MS * 2 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    assert.match(out, /stored for 5 users/);
    assert.match(out, /Foghorn Leghorn +looney-tunes\/admin +got the order with detail/);
    assert.match(out, /Daffy Duck +looney-tunes\/admin +got the order with detail/);
    assert.match(out, /Bugs Bunny +looney-tunes\/developer +got the order, without its detail/);
    assert.match(out, /Mickey Mouse +disney\/admin +got the order with detail/);
    assert.match(out, /Minnie Mouse +disney\/order-desk +got the order with detail/);
    const [[toMinnie], [toBugs]] = await Promise.all(live);
    assert.equal(toMinnie.detail.order, "LT-1042");
    assert.equal("detail" in toBugs, false);
  });
});

function elapseQuiet(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
