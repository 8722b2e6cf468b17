// rollcalld webhooks (docs/webhooks.md): signed, batched, retried, in order,
// at least once. Each test gets its own receiver and rollcalld, so the
// delivery checks (checkDeliveries) cover everything that receiver saw.
//
// While the receiver refuses deliveries, the transitions are confirmed via
// the HTTP API (the presence state has no event of its own: pollUntil).
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";

import {
  api,
  closeSocket,
  connectUser,
  presenceConfig,
  startRollcalld,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { closeAll, elapse, pollUntil } from "./lib/server.mjs";
import {
  checkAlternating,
  checkDeliveries,
  startReceiver,
  verifyDelivery,
  webhookSignature,
} from "./lib/webhook-receiver.mjs";

const GRACE_MS = 300;

describe("rollcalld webhooks", () => {
  const cleanups = [];
  afterEach(async () => {
    await closeAll();
    while (cleanups.length) await cleanups.pop()();
  });
  after(closeAll);

  async function setup({ receiver = {}, webhooks = {} } = {}) {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET, ...receiver });
    cleanups.push(() => rx.close());
    const rc = await startRollcalld({
      config: presenceConfig({ receiver: rx, graceMs: GRACE_MS, overrides: { webhooks } }),
    });
    cleanups.push(async () => {
      await rc.stop();
      rc.cleanup();
    });
    return { rx, rc };
  }

  const isOnline = async (rc, user) => (await api(rc, `/v1/presence/users/${user}`)).json.online;
  const waitState = (rc, user, online) =>
    pollUntil(() => isOnline(rc, user), (v) => v === online, {
      ms: GRACE_MS + 5000,
      what: `${user} ${online ? "online" : "offline"} in the API`,
    });

  /** `users` go online, then offline; resolves once the server shows each transition. */
  async function cycle(rc, users) {
    const sockets = await Promise.all(users.map((u) => connectUser(rc.url, tokenFor(u))));
    for (const u of users) await waitState(rc, u, true);
    for (const s of sockets) await closeSocket(s);
    for (const u of users) await waitState(rc, u, false);
  }

  /** Asserts that exactly `users` x `cycles` online/offline pairs were delivered, in order; returns the events. */
  function expectAll(rx, users, cycles = 1, opts = {}) {
    const events = checkDeliveries(rx, opts);
    assert.equal(events.length, users.length * cycles * 2, `distinct events: ${events.length}`);
    for (const u of users) {
      const mine = events.filter((e) => e.user === u);
      assert.equal(mine.length, cycles * 2, `${u}: ${JSON.stringify(mine.map((e) => [e.type, e.seq]))}`);
      checkAlternating(mine, { user: u });
    }
    return events;
  }

  it("the test receiver really verifies: a forged or stale signature gets 401", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const body = JSON.stringify({ events: [] });
    const ts = String(Math.floor(Date.now() / 1000));
    const post = (headers) =>
      fetch(rx.url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    assert.equal((await post({ "x-rollcall-timestamp": ts, "x-rollcall-signature": webhookSignature("other secret", ts, body) })).status, 401);
    assert.equal((await post({ "x-rollcall-timestamp": ts })).status, 401);
    const old = String(Number(ts) - 3600);
    assert.equal((await post({ "x-rollcall-timestamp": old, "x-rollcall-signature": webhookSignature(WEBHOOK_SECRET, old, body) })).status, 401);
    assert.equal((await post({ "x-rollcall-timestamp": ts, "x-rollcall-signature": webhookSignature(WEBHOOK_SECRET, ts, body) })).status, 200);
    assert.equal(rx.rejected().length, 3);
    // the documented example (docs/webhooks.md) verifies, apart from its old timestamp
    const exampleBody =
      '{"events":[{"id":"evt_AKz3Qx1Yb7mN2xVtR9aL","type":"user.online","user":"alice","seq":41,"at":"2026-11-30T02:04:18.123Z","connections":1},{"id":"evt_AJ0pLw8sXc2Vb6nM4qRt","type":"user.offline","user":"bob","seq":42,"at":"2026-11-30T02:04:19.020Z","connections":0}]}';
    assert.equal(
      verifyDelivery(
        "a long random string",
        "1796004260",
        "sha256=639242b47c3131d4badbd65f01aab4e87662aa397f0998d0b63201f294d5a2e5",
        Buffer.from(exampleBody),
        1796004260 * 1000,
      ),
      null,
    );
  });

  it("receiver answering 500: every event is retried until accepted, in order, the same batch first", async () => {
    const { rx, rc } = await setup({ receiver: { status: 500 } });
    const users = ["fail-a", "fail-b", "fail-c", "fail-d"];
    await cycle(rc, users);
    await cycle(rc, users);
    await rx.waitFor(() => rx.requests.filter((r) => r.status === 500).length >= 3, 5000, "3 failed deliveries");
    assert.equal(rx.delivered().length, 0, "nothing may be accepted while the receiver answers 500");

    rx.respondWith(200);
    await rx.waitFor(() => rx.delivered().length >= users.length * 4, 5000, "every event after the receiver recovered");
    await elapse(300, "no further deliveries");
    const events = expectAll(rx, users, 2);
    // repeated ids only come from retried (failed) requests
    const failedIds = new Set(rx.requests.filter((r) => r.status !== 200).flatMap((r) => r.events.map((e) => e.id)));
    const okRequests = rx.requests.filter((r) => r.status === 200);
    const okIds = okRequests.flatMap((r) => r.events.map((e) => e.id));
    assert.equal(new Set(okIds).size, okIds.length, "an id was accepted twice");
    const allIds = new Set(events.map((e) => e.id));
    for (const id of failedIds) assert.ok(allIds.has(id), `${id} was attempted but never delivered`);
    assert.ok(failedIds.size >= 1);
  });

  it("receiver down (port closed): events wait in the outbox and all arrive, in order, once it listens again", async () => {
    const { rx, rc } = await setup();
    await rx.down();
    const users = ["down-a", "down-b", "down-c"];
    await cycle(rc, users);
    const more = ["down-d"];
    await cycle(rc, more);
    await elapse(400, "a few refused connection attempts");
    assert.equal(rx.requests.length, 0);
    await rx.up();
    assert.ok(rx.url.endsWith(`:${rx.port}/hook`));
    await rx.waitFor(() => rx.delivered().length >= 8, 5000, "every event after the receiver came back");
    await elapse(300, "no further deliveries");
    const events = expectAll(rx, [...users, ...more], 1);
    // the transitions of down-d happened after those of the others
    const seqOf = (u, type) => events.find((e) => e.user === u && e.type === type).seq;
    for (const u of users) assert.ok(seqOf(u, "user.offline") < seqOf("down-d", "user.online"));
    const { stdout, stderr } = rc.output();
    assert.match(stdout + stderr, /webhook.*refused/i, "the failing delivery is logged with its reason");
  });

  it("a slow receiver (300 ms per answer): 30 transitions arrive in fewer than 30 requests", async (t) => {
    const { rx, rc } = await setup({ receiver: { delayMs: 300 } });
    const users = Array.from({ length: 15 }, (_, i) => `slow-${i}`);
    const sockets = [];
    for (const u of users) sockets.push(await connectUser(rc.url, tokenFor(u))); // one after the other
    for (const s of sockets) await closeSocket(s);
    await rx.waitFor(() => rx.delivered().length >= 30 && rx.requests.every((r) => r.status !== null), 15000, "30 events");
    const events = expectAll(rx, users, 1);
    assert.equal(events.length, 30);
    assert.ok(rx.requests.length < 30, `${rx.requests.length} requests for 30 events`);
    assert.ok(rx.requests.some((r) => r.events.length > 1), "no request carried more than one event");
    t.diagnostic(`30 events in ${rx.requests.length} requests: ${rx.requests.map((r) => r.events.length).join(",")}`);
  });

  it("batch_max bounds the events per request", async () => {
    const { rx, rc } = await setup({ webhooks: { batch_max: 4 } });
    await rx.down();
    const users = Array.from({ length: 7 }, (_, i) => `batch-${i}`);
    await cycle(rc, users);
    await rx.up();
    await rx.waitFor(() => rx.delivered().length >= 14, 5000, "14 events");
    expectAll(rx, users, 1);
    for (const r of rx.requests) assert.ok(r.events.length <= 4, `a request carried ${r.events.length} events`);
    assert.ok(rx.requests.length >= 4);
  });

  it("an event undelivered for more than max_age_s goes to the dead letter; later events still go out", async () => {
    const { rx, rc } = await setup({ receiver: { status: 500 }, webhooks: { max_age_s: 1 } });
    const socket = await connectUser(rc.url, tokenFor("dead-a"));
    await waitState(rc, "dead-a", true);
    const dead = await pollUntil(
      async () => (await api(rc, "/v1/webhooks/dead?limit=10")).json,
      (j) => j?.events?.length >= 1,
      { ms: 6000, interval: 100, what: "a dead letter" },
    );
    const [d] = dead.events;
    assert.equal(d.user, "dead-a");
    assert.equal(d.type, "user.online");
    assert.ok(d.attempts >= 1);
    assert.match(d.reason, /HTTP 500/);
    assert.match(d.reason, /max_age/);
    assert.ok(!Number.isNaN(Date.parse(d.deadAt)));

    rx.respondWith(200);
    await closeSocket(socket);
    await rx.waitFor(() => rx.delivered().length >= 1, GRACE_MS + 5000, "the user.offline");
    await elapse(300, "no further deliveries");
    const events = checkDeliveries(rx, { deadIds: new Set([d.id]) });
    assert.deepEqual(events.map((e) => [e.user, e.type]), [["dead-a", "user.offline"]], "the dead event was sent again");
    assert.ok(events[0].seq > d.seq);
    assert.equal((await api(rc, "/v1/webhooks/dead", { key: null })).status, 401);
  });
});
