// rollcalld presence under load: USERS users x TABS websocket connections
// each, all opened at once and all closed at once, two rounds with a pause
// longer than the grace period between them. Each user must get exactly one
// user.online and one user.offline per round, alternating with growing seq;
// every delivery verified by the receiver.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { presenceConfig, startRollcalld, tokenFor, userSocket, WEBHOOK_SECRET } from "./lib/rollcalld.mjs";
import { closeAll, elapse, waitConnected, withDeadline } from "./lib/server.mjs";
import { checkAlternating, checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const USERS = 200;
const TABS = 5;
const GRACE_MS = 500;
const MARGIN_MS = 500;

describe(`presence load: ${USERS} users x ${TABS} connections, twice`, () => {
  let rx;
  let rc;
  before(async () => {
    rx = await startReceiver({ secret: WEBHOOK_SECRET });
    rc = await startRollcalld({ config: presenceConfig({ receiver: rx, graceMs: GRACE_MS }) });
  });
  after(async () => {
    await closeAll();
    await rc?.stop();
    await rx?.close();
    rc?.cleanup();
  });

  const users = Array.from({ length: USERS }, (_, i) => `load-${String(i).padStart(3, "0")}`);
  const tokens = new Map(users.map((u) => [u, tokenFor(u, { orgs: [{ id: "load", role: "member" }] })]));

  /** Number of distinct delivered events of `type`. */
  const count = (type) => rx.delivered().filter((e) => e.type === type).length;

  async function round(n) {
    const started = Date.now();
    const sockets = [];
    for (const u of users) {
      for (let t = 0; t < TABS; t++) sockets.push(userSocket(rc.url, tokens.get(u)));
    }
    await withDeadline(
      Promise.all(sockets.map((s) => waitConnected(s, 20000))),
      22000,
      `round ${n}: ${sockets.length} connections`,
    );
    const connectedMs = Date.now() - started;
    await rx.waitFor(() => count("user.online") >= USERS * n, 15000, `round ${n}: ${USERS * n} user.online in total`);
    for (const s of sockets) s.disconnect();
    await rx.waitFor(
      () => count("user.offline") >= USERS * n,
      GRACE_MS + 15000,
      `round ${n}: ${USERS * n} user.offline in total`,
    );
    await closeAll();
    return { connectedMs, totalMs: Date.now() - started };
  }

  it("exactly one user.online and one user.offline per user per round, alternating, unique ids, valid signatures", async (t) => {
    const r1 = await round(1);
    // a pause longer than the grace period: nothing else may arrive
    await elapse(GRACE_MS + MARGIN_MS, "no event between the rounds");
    assert.equal(rx.delivered().length, 2 * USERS, "events after round 1 settled");
    const r2 = await round(2);
    await elapse(GRACE_MS + MARGIN_MS, "no event after round 2");

    let events;
    try {
      events = checkDeliveries(rx); // signatures, outbox order, no repeats
    } catch (err) {
      const { stdout, stderr } = rc.output();
      const log = `${stdout}${stderr}`.split("\n").filter((l) => /warn|error|webhook|store/i.test(l)).slice(-20);
      err.message += `\n--- rollcalld warnings/errors ---\n${log.join("\n")}`;
      throw err;
    }
    assert.equal(events.length, 4 * USERS, `distinct events: ${events.length}`);
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, "event ids are not unique");
    const rawCount = rx.accepted().length;
    assert.equal(rawCount, events.length, "an accepted event was delivered twice");
    assert.equal(rx.rejected().length, 0);

    for (const u of users) {
      const mine = events.filter((e) => e.user === u);
      assert.deepEqual(
        mine.map((e) => e.type),
        ["user.online", "user.offline", "user.online", "user.offline"],
        `${u}: ${JSON.stringify(mine.map((e) => [e.type, e.seq]))}`,
      );
      checkAlternating(mine, { user: u });
      for (const e of mine) {
        if (e.type === "user.online") assert.ok(e.connections >= 1 && e.connections <= TABS, `${u} online with ${e.connections}`);
        else assert.equal(e.connections, 0);
      }
    }
    // round 2 comes entirely after round 1 in seq
    const maxSeq1 = Math.max(...events.slice(0, 2 * USERS).map((e) => e.seq));
    assert.ok(events.slice(2 * USERS).every((e) => e.seq > maxSeq1), "round 2 events interleave with round 1");
    assert.ok(rx.requests.length < events.length, `${rx.requests.length} requests for ${events.length} events: no batching`);
    t.diagnostic(
      `round 1: ${r1.connectedMs} ms to connect, ${r1.totalMs} ms in all; round 2: ${r2.connectedMs} / ${r2.totalMs} ms; ` +
        `${rx.requests.length} webhook requests`,
    );
  });
});
