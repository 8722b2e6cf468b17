// rollcalld restart safety (docs/presence.md "Restart safety"): after a
// SIGKILL and a restart on the same store, every user who was online gets a
// new grace period; users who come back in time produce no event at all,
// the others get exactly one user.offline; undelivered webhook events
// survive the crash.
//
// "Stored" is confirmed through org presence events: they are emitted only
// after the transition is written to the store (docs/presence.md "Stored
// first"), so a SIGKILL after them cannot lose the transition.
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";

import {
  api,
  closeSocket,
  connectUser,
  presenceConfig,
  restartRollcalld,
  runRollcalld,
  startRollcalld,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { closeAll, elapse } from "./lib/server.mjs";
import { checkAlternating, checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const GRACE_MS = 1500;
const MARGIN_MS = 500;
const EVENT_MS = 5000;

describe("rollcalld restart (SIGKILL) with the same store", () => {
  const cleanups = [];
  afterEach(async () => {
    await closeAll();
    while (cleanups.length) await cleanups.pop()();
  });
  after(closeAll);

  async function setup(rx) {
    const rc = await startRollcalld({ config: presenceConfig({ receiver: rx, graceMs: GRACE_MS }) });
    cleanups.push(async () => rc.cleanup());
    return rc;
  }
  function stopLater(server) {
    cleanups.push(() => server.stop());
  }
  const presenceOf = (user, status) => ([p]) => p && p.user === user && p.status === status;

  it("B reconnects within the new grace period: no event for B; A does not: exactly one user.offline for A", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const rc1 = await setup(rx);
    const orgs = [{ id: "restart-org", role: "member" }];
    const tokenA = tokenFor("restart-a", { orgs });
    const tokenB = tokenFor("restart-b", { orgs });
    await connectUser(rc1.url, tokenA);
    await connectUser(rc1.url, tokenB);
    await rx.waitFor(
      () => rx.delivered("restart-a").length === 1 && rx.delivered("restart-b").length === 1,
      EVENT_MS,
      "both users online",
    );
    const [aOnline] = rx.delivered("restart-a");
    const [bOnline] = rx.delivered("restart-b");

    const killed = await rc1.kill("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    await closeAll(); // the client side of the dead connections

    const restartAt = Date.now();
    const rc2 = await restartRollcalld(rc1);
    stopLater(rc2);
    const b = await connectUser(rc2.url, tokenB);
    const reconnectMs = Date.now() - restartAt;
    assert.ok(
      reconnectMs < GRACE_MS - 300,
      `restart + reconnect took ${reconnectMs} ms: too slow to test a reconnect within the grace period (${GRACE_MS} ms)`,
    );
    const observer = await connectUser(rc2.url, tokenFor("restart-observer", { orgs }));

    // A: one user.offline after the grace period
    await rx.waitFor(() => rx.delivered("restart-a").length >= 2, GRACE_MS + EVENT_MS, "user.offline of restart-a");
    const aOffline = rx.delivered("restart-a")[1];
    assert.equal(aOffline.type, "user.offline");
    assert.ok(aOffline.seq > aOnline.seq, `offline seq ${aOffline.seq} <= online seq ${aOnline.seq}`);
    assert.ok(aOffline.seq > bOnline.seq, "the seq counter went back after the restart");
    assert.ok(
      Date.parse(aOffline.at) - restartAt >= GRACE_MS - 50,
      `restart-a went offline ${Date.parse(aOffline.at) - restartAt} ms after the restart (grace ${GRACE_MS} ms)`,
    );
    assert.deepEqual(
      await observer.log.take("presence", EVENT_MS, presenceOf("restart-a", "offline")),
      [{ user: "restart-a", status: "offline", org: "restart-org" }],
    );

    // B: nothing at all, also past the point where its grace would have ended
    await elapse(MARGIN_MS, "no event for restart-b");
    assert.deepEqual(
      rx.delivered("restart-b").map((e) => e.type),
      ["user.online"],
      "restart-b came back within grace: no offline/online pair",
    );
    assert.deepEqual(rx.delivered("restart-a").map((e) => e.type), ["user.online", "user.offline"]);
    assert.equal(
      observer.log.events.filter((e) => e.event === "presence" && e.args[0]?.user === "restart-b").length,
      0,
      "org members heard of a transition of restart-b",
    );
    const pb = (await api(rc2, "/v1/presence/users/restart-b")).json;
    assert.equal(pb.online, true);
    assert.equal(pb.connections, 1);
    assert.equal(pb.seq, bOnline.seq, "restart-b keeps the seq of its user.online");
    assert.deepEqual((await api(rc2, "/v1/presence/users/restart-a")).json, {
      user: "restart-a",
      online: false,
      connections: 0,
    });

    // and B still goes offline normally afterwards
    await closeSocket(b);
    await rx.waitFor(() => rx.delivered("restart-b").length >= 2, GRACE_MS + EVENT_MS, "user.offline of restart-b");
    checkAlternating(rx.delivered("restart-b"), { user: "restart-b" });
    assert.ok(rx.delivered("restart-b")[1].seq > aOffline.seq);
    checkDeliveries(rx, { allowRedelivery: true });
  });

  it("webhook events not delivered before the crash are delivered after the restart, in order", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const rc1 = await setup(rx);
    await rx.down();
    const orgs = [{ id: "outbox-org", role: "member" }];
    const observer = await connectUser(rc1.url, tokenFor("outbox-observer", { orgs }));
    await observer.log.take("presence", EVENT_MS, presenceOf("outbox-observer", "online"));
    const c = await connectUser(rc1.url, tokenFor("outbox-c", { orgs }));
    await observer.log.take("presence", EVENT_MS, presenceOf("outbox-c", "online"));
    await closeSocket(c);
    await observer.log.take("presence", GRACE_MS + EVENT_MS, presenceOf("outbox-c", "offline"));
    await connectUser(rc1.url, tokenFor("outbox-d", { orgs }));
    await observer.log.take("presence", EVENT_MS, presenceOf("outbox-d", "online"));
    assert.equal(rx.requests.length, 0);

    await rc1.kill("SIGKILL");
    await closeAll();
    await rx.up();
    const rc2 = await restartRollcalld(rc1);
    stopLater(rc2);

    // the 4 stored events first; then, after the grace, the offline of the two who did not come back
    await rx.waitFor(() => rx.delivered().length >= 4, EVENT_MS, "the 4 events stored before the crash");
    assert.deepEqual(
      rx.delivered().slice(0, 4).map((e) => [e.user, e.type]),
      [
        ["outbox-observer", "user.online"],
        ["outbox-c", "user.online"],
        ["outbox-c", "user.offline"],
        ["outbox-d", "user.online"],
      ],
    );
    await rx.waitFor(() => rx.delivered().length >= 6, GRACE_MS + EVENT_MS, "the offline of outbox-observer and outbox-d");
    await elapse(MARGIN_MS, "no further events");
    const events = checkDeliveries(rx);
    assert.equal(events.length, 6, JSON.stringify(events.map((e) => [e.user, e.type, e.seq])));
    assert.deepEqual(
      events.slice(4).map((e) => [e.user, e.type]).sort(),
      [
        ["outbox-d", "user.offline"],
        ["outbox-observer", "user.offline"],
      ],
    );
    for (const u of ["outbox-observer", "outbox-c", "outbox-d"]) {
      const mine = rx.delivered(u);
      assert.equal(mine.length, 2, u);
      checkAlternating(mine, { user: u });
    }
    assert.equal(new Set(events.map((e) => e.id)).size, 6);
  });

  it("a second rollcalld on the same data directory refuses to start and says why", async () => {
    const rc = await setup(null);
    stopLater(rc);
    const second = await runRollcalld(["--config", rc.configFile, "--listen", "127.0.0.1:0"]);
    assert.notEqual(second.code, 0, `second rollcalld exited with ${second.code}`);
    assert.match(second.stderr, /in use by another process/);
    // The first one is unaffected.
    await connectUser(rc.url, tokenFor("lock-check"));
  });
});
