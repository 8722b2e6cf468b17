// rollcalld presence: per user, not per socket (docs/presence.md).
//
// One rollcalld (grace GRACE_MS) delivers its webhooks to a verifying
// receiver; every test uses its own user ids (and orgs), so the events of
// one test never count for another. "Nothing happens" is asserted over an
// explicit window of grace + margin (elapse), never by sleeping before an
// awaited event.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  api,
  closeSocket,
  connectUser,
  presenceConfig,
  startRollcalld,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { ackWithin, closeAll, elapse, pollUntil } from "./lib/server.mjs";
import { checkAlternating, checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const GRACE_MS = 500;
/** Margin after the grace period for "no event" windows. */
const MARGIN_MS = 400;
/** The server may not fire the offline earlier than this before grace (clock granularity). */
const TOLERANCE_MS = 25;
const EVENT_MS = 5000;

describe("rollcalld presence", () => {
  let rx;
  let rc;
  before(async () => {
    rx = await startReceiver({ secret: WEBHOOK_SECRET });
    rc = await startRollcalld({ config: presenceConfig({ receiver: rx, graceMs: GRACE_MS }) });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await rc?.stop();
    await rx?.close();
    rc?.cleanup();
  });

  const delivered = (user) => rx.delivered(user);
  const waitEvents = (user, n, ms = EVENT_MS) =>
    rx.waitFor(() => delivered(user).length >= n && delivered(user), ms, `${n} webhook event(s) of ${user}`);
  const types = (user) => delivered(user).map((e) => e.type);
  const presenceOf = (user, status) => ([p]) => p && p.user === user && (status === undefined || p.status === status);

  it("3 tabs: one user.online; closing 2 tabs: nothing; closing the last: one user.offline, not before the grace", async () => {
    const org = "tabs-org";
    const user = "tabs-user";
    const observer = await connectUser(rc.url, tokenFor("tabs-observer", { orgs: [{ id: org, role: "member" }] }));
    const outsider = await connectUser(rc.url, tokenFor("tabs-outsider", { orgs: [{ id: "elsewhere", role: "member" }] }));
    await waitEvents("tabs-observer", 1);

    const token = tokenFor(user, { orgs: [{ id: org, role: "member" }] });
    const tabs = await Promise.all([1, 2, 3].map(() => connectUser(rc.url, token)));
    const [online] = await waitEvents(user, 1);
    assert.equal(online.type, "user.online");
    assert.equal(online.user, user);
    assert.ok(online.connections >= 1 && online.connections <= 3, `connections ${online.connections}`);
    assert.match(online.id, /^\S+$/);
    assert.ok(Number.isInteger(online.seq) && online.seq > 0);
    assert.ok(!Number.isNaN(Date.parse(online.at)), `at ${online.at}`);
    assert.deepEqual(await observer.log.take("presence", EVENT_MS, presenceOf(user)), [
      { user, status: "online", org },
    ]);
    await pollUntil(
      async () => (await api(rc, `/v1/presence/users/${user}`)).json.connections,
      (n) => n === 3,
      { what: `3 connections of ${user} in the API` },
    );

    // two tabs closed: the user keeps one connection; no event in grace + margin
    await closeSocket(tabs[0]);
    await closeSocket(tabs[1]);
    await elapse(GRACE_MS + MARGIN_MS, "no event after closing 2 of 3 tabs");
    assert.deepEqual(types(user), ["user.online"], "exactly one user.online, and nothing when 2 of 3 tabs close");
    assert.equal(observer.log.events.filter((e) => presenceOf(user)(e.args)).length, 0, "org presence event per connection");
    const still = (await api(rc, `/v1/presence/users/${user}`)).json;
    assert.equal(still.online, true);
    assert.equal(still.connections, 1);

    // the last tab: user.offline once the grace period is over
    const closedAt = Date.now();
    await closeSocket(tabs[2]);
    const [, offline] = await waitEvents(user, 2, GRACE_MS + EVENT_MS);
    assert.equal(offline.type, "user.offline");
    assert.equal(offline.connections, 0);
    assert.ok(offline.seq > online.seq, `offline seq ${offline.seq} <= online seq ${online.seq}`);
    const request = rx.requests.find((r) => r.events.some((e) => e.id === offline.id));
    assert.ok(
      request.at - closedAt >= GRACE_MS - TOLERANCE_MS,
      `user.offline arrived ${request.at - closedAt} ms after the last tab closed (grace ${GRACE_MS} ms)`,
    );
    assert.ok(
      Date.parse(offline.at) - closedAt >= GRACE_MS - TOLERANCE_MS,
      `user.offline "at" is ${Date.parse(offline.at) - closedAt} ms after the close (grace ${GRACE_MS} ms)`,
    );
    assert.deepEqual(await observer.log.take("presence", EVENT_MS, presenceOf(user)), [
      { user, status: "offline", org },
    ]);

    await elapse(MARGIN_MS, "no second user.offline");
    assert.deepEqual(types(user), ["user.online", "user.offline"]);
    checkAlternating(delivered(user), { user });
    assert.equal(observer.log.events.filter((e) => presenceOf(user)(e.args)).length, 0, "a second org presence event");
    assert.equal(
      outsider.log.events.filter((e) => e.event === "presence" && e.args[0]?.user === user).length,
      0,
      "a user outside the org heard of the transition",
    );
    assert.deepEqual((await api(rc, `/v1/presence/users/${user}`)).json, { user, online: false, connections: 0 });
  });

  it("a reload within the grace period (close, reopen at once) produces no event at all", async () => {
    const user = "reload-user";
    const token = tokenFor(user);
    let socket = await connectUser(rc.url, token);
    await waitEvents(user, 1);
    for (let i = 0; i < 3; i++) {
      const closedAt = Date.now();
      await closeSocket(socket);
      socket = await connectUser(rc.url, token);
      const took = Date.now() - closedAt;
      assert.ok(took < GRACE_MS - 150, `reload ${i} took ${took} ms: too slow to test a reload within grace ${GRACE_MS} ms`);
    }
    await elapse(GRACE_MS + MARGIN_MS, "no event after reloads within grace");
    assert.deepEqual(types(user), ["user.online"], "a reload within grace produced events");
    assert.equal((await api(rc, `/v1/presence/users/${user}`)).json.online, true);

    await closeSocket(socket);
    await waitEvents(user, 2, GRACE_MS + EVENT_MS);
    assert.deepEqual(types(user), ["user.online", "user.offline"]);
  });

  it("seq strictly increases and the events alternate over several online/offline cycles", async () => {
    const user = "cycle-user";
    const token = tokenFor(user);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const sockets = await Promise.all([1, 2].map(() => connectUser(rc.url, token)));
      await waitEvents(user, 2 * cycle - 1);
      for (const s of sockets) await closeSocket(s);
      await waitEvents(user, 2 * cycle, GRACE_MS + EVENT_MS);
    }
    const events = delivered(user);
    assert.deepEqual(
      events.map((e) => e.type),
      ["user.online", "user.offline", "user.online", "user.offline", "user.online", "user.offline"],
    );
    checkAlternating(events, { user });
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, "event ids repeat");
  });

  it("presence:list and the HTTP API show the online members of an org, with connection details", async () => {
    const acme = (role) => [{ id: "acme", role }];
    const a = await connectUser(rc.url, tokenFor("list-a", { name: "Ann", orgs: acme("admin") }));
    const bToken = tokenFor("list-b", { orgs: acme("member") });
    const b1 = await connectUser(rc.url, bToken, { extraHeaders: { "user-agent": "rollcall-interop/1" } });
    const b2 = await connectUser(rc.url, bToken, { transports: ["polling"] });
    const c = await connectUser(rc.url, tokenFor("list-c", { orgs: [{ id: "beta", role: "member" }] }));
    await Promise.all(["list-a", "list-b", "list-c"].map((u) => waitEvents(u, 1)));
    await pollUntil(
      async () => (await api(rc, "/v1/presence/users/list-b")).json.connections,
      (n) => n === 2,
      { what: "2 connections of list-b in the API" },
    );
    const bOnline = delivered("list-b")[0];

    const [all] = await ackWithin(a, EVENT_MS, "presence:list");
    assert.deepEqual(all.users.map((u) => u.user).sort(), ["list-a", "list-b"]);
    const ann = all.users.find((u) => u.user === "list-a");
    assert.equal(ann.name, "Ann");
    assert.equal(ann.online, true);
    assert.equal(ann.connections, 1);
    assert.deepEqual(ann.orgs, acme("admin"));
    assert.equal(all.users.find((u) => u.user === "list-b").connections, 2);

    const [one] = await ackWithin(a, EVENT_MS, "presence:list", { org: "acme" });
    assert.equal(one.org, "acme");
    assert.deepEqual(one.users.map((u) => u.user).sort(), ["list-a", "list-b"]);
    const [other] = await ackWithin(a, EVENT_MS, "presence:list", { org: "beta" });
    assert.equal(typeof other.error, "string", `presence:list of an org the caller is not in: ${JSON.stringify(other)}`);
    assert.equal(other.users, undefined);
    const [fromC] = await ackWithin(c, EVENT_MS, "presence:list");
    assert.deepEqual(fromC.users.map((u) => u.user), ["list-c"]);

    // HTTP API
    const online = await api(rc, "/v1/presence/online?org=acme");
    assert.equal(online.status, 200);
    assert.equal(online.json.org, "acme");
    assert.deepEqual(online.json.users.map((u) => u.user).sort(), ["list-a", "list-b"]);

    const user = await api(rc, "/v1/presence/users/list-b");
    assert.equal(user.status, 200);
    assert.match(user.headers.get("content-type"), /application\/json/);
    const p = user.json;
    assert.equal(p.user, "list-b");
    assert.equal(p.online, true);
    assert.equal(p.connections, 2);
    assert.equal(p.seq, bOnline.seq, "seq of the API is the seq of the user.online event");
    assert.deepEqual(p.orgs, acme("member"));
    assert.ok(!Number.isNaN(Date.parse(p.since)));
    assert.equal(p.details.length, 2);
    const byTransport = Object.fromEntries(p.details.map((d) => [d.transport, d]));
    assert.deepEqual(Object.keys(byTransport).sort(), ["polling", "websocket"]);
    assert.equal(byTransport.websocket.socket, b1.id);
    assert.equal(byTransport.polling.socket, b2.id);
    for (const d of p.details) {
      assert.equal(d.nsp, "/");
      assert.equal(d.address, "127.0.0.1");
      assert.ok(!Number.isNaN(Date.parse(d.since)));
    }
    assert.equal(byTransport.websocket.userAgent, "rollcall-interop/1");
    assert.equal(typeof byTransport.polling.userAgent, "string");

    assert.deepEqual((await api(rc, "/v1/presence/users/nobody-here")).json, {
      user: "nobody-here",
      online: false,
      connections: 0,
    });

    // the key is required
    for (const key of [null, "wrong-key", `${"x".repeat(10)}`, `${"api-key-for-the-interop-tests-0124"}`]) {
      for (const path of ["/v1/presence/users/list-b", "/v1/presence/online?org=acme"]) {
        const res = await api(rc, path, { key });
        assert.equal(res.status, 401, `${path} with key ${JSON.stringify(key)}: ${res.status} ${res.text}`);
        assert.ok(!res.text.includes("list-b"), "a refused request leaked presence data");
      }
    }
    const health = await api(rc, "/healthz", { key: null });
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: "ok" });

    // everyone leaves: the org is empty again
    for (const s of [a, b1, b2, c]) await closeSocket(s);
    await Promise.all(["list-a", "list-b", "list-c"].map((u) => waitEvents(u, 2, GRACE_MS + EVENT_MS)));
    assert.deepEqual((await api(rc, "/v1/presence/online?org=acme")).json, { org: "acme", users: [] });
  });

  it("the HTTP API answers 403 while api.key is unset; /healthz still answers", async () => {
    const noKey = await startRollcalld({ config: presenceConfig({ overrides: { api: undefined } }) });
    try {
      const res = await api(noKey, "/v1/presence/users/x", { key: "anything-at-all-here" });
      assert.equal(res.status, 403, res.text);
      assert.equal((await api(noKey, "/healthz", { key: null })).status, 200);
    } finally {
      await noKey.stop();
      noKey.cleanup();
    }
  });

  it("every delivery of this file was signed, in outbox order, without repeats; each user alternates", async () => {
    await elapse(MARGIN_MS, "late deliveries");
    const events = checkDeliveries(rx);
    assert.ok(events.length >= 10, `only ${events.length} events`);
    const ids = new Set(events.map((e) => e.id));
    assert.equal(ids.size, events.length);
    const users = new Set(events.map((e) => e.user));
    for (const u of users) checkAlternating(delivered(u), { user: u });
    for (const r of rx.requests) {
      assert.equal(r.headers["content-type"], "application/json");
      assert.match(r.headers["user-agent"], /^rollcall\//);
      assert.match(r.signature, /^sha256=[0-9a-f]{64}$/);
    }
  });
});
