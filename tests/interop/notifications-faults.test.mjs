// Notifications when PostgreSQL fails (docs/notifications.md, "When
// something fails"): the ingest connection killed under rollcalld (rows
// inserted meanwhile arrive once, LISTEN is back), and a PostgreSQL store
// stopped and started again (clear 503s and socket errors meanwhile, the
// server keeps serving, everything works again afterwards).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { freshDatabase, literal, outboxRows, psql, startPrivatePostgres, waitForOutboxTable } from "./lib/pg.mjs";
import { api, apiRequest, connectUser, presenceConfig, startRollcalld, tokenFor } from "./lib/rollcalld.mjs";
import { ackWithin, closeAll, once, pollUntil, recordEvents, WAIT_MS } from "./lib/server.mjs";



describe("notifications through PostgreSQL faults", () => {
  let db;
  let pg;
  let rc;
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
    await db?.drop();
    await pg?.destroy();
  });

  it("reconnects when its ingest connection is killed: rows inserted meanwhile arrive once, NOTIFY works again", async () => {
    db = await freshDatabase("faults");
    const channel = `rc_faults_${process.pid}`;
    rc = await startRollcalld({ config: presenceConfig({ overrides: { notifications: { postgres_url: db.url, channel } } }) });
    await waitForOutboxTable(db);
    const s = await connectUser(rc.url, tokenFor("f-user"));
    const log = recordEvents(s, "notification");
    const killed = await psql(
      db,
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = ${literal(db.name)} and application_name = 'rollcall'`,
    );
    assert.ok(killed.length >= 1, "rollcalld's connection was found");
    await psql(db, outboxRows("f-user", 0, 20));
    await log.waitFor(20, 20000);
    // LISTEN is in place again: a NOTIFY body is published.
    const body = JSON.stringify({ audience: { users: ["f-user"] }, type: "after", data: {} });
    await pollUntil(
      async () => {
        await psql(db, `select pg_notify(${literal(channel)}, ${literal(body)})`);
        await new Promise((r) => setTimeout(r, 200));
        return log.filter(([n]) => n.type === "after").length;
      },
      (k) => k >= 1,
      { ms: 20000, what: "a NOTIFY after the reconnect" },
    );
    const seen = log.filter(([n]) => n.type === "row").map(([n]) => n.data.i).sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i), "each row once");
    await rc.stop();
    rc.cleanup();
    rc = null;
  });

  it("answers 503 while its PostgreSQL store is down, keeps serving sockets, and recovers", async () => {
    pg = await startPrivatePostgres();
    rc = await startRollcalld({
      config: presenceConfig({ overrides: { store: { url: pg.url }, notifications: { postgres_url: pg.url } } }),
    });
    const s = await connectUser(rc.url, tokenFor("f-store"));
    const first = once(s, "notification");
    const ok = await apiRequest(rc, "POST", "/v1/notifications", { audience: { users: ["f-store"] }, type: "t", data: 1 });
    assert.equal(ok.status, 201, ok.text);
    await first;

    await pg.stop();
    const down = await apiRequest(rc, "POST", "/v1/notifications", { audience: { users: ["f-store"] }, type: "t", data: 2 });
    assert.equal(down.status, 503, down.text);
    assert.match(down.json.error, /notifications are unavailable/);
    assert.doesNotMatch(down.text, /password/);
    // The readiness probe names PostgreSQL (store and ingest); liveness is another matter.
    const ready = await pollUntil(
      () => api(rc, "/readyz", { key: null }),
      (r) => r.status === 503 && r.json.failing.filter((f) => f.dependency === "postgres").length === 2,
      { ms: 10000, what: "/readyz naming postgres twice (store and ingest)" },
    );
    assert.equal(ready.json.status, "unavailable");
    const [list] = await ackWithin(s, WAIT_MS, "notifications:list", {});
    assert.match(list.error, /notifications are unavailable/);
    // Sockets are still served.
    const other = await connectUser(rc.url, tokenFor("f-other"));
    assert.ok(other.connected);

    await pg.start();
    const back = await pollUntil(
      () => apiRequest(rc, "POST", "/v1/notifications", { audience: { users: ["f-store"] }, type: "t", data: 3 }),
      (r) => r.status === 201,
      { ms: 20000, interval: 200, what: "POST /v1/notifications to succeed again" },
    );
    assert.equal(back.json.recipients, 1);
    await pollUntil(() => api(rc, "/readyz", { key: null }), (r) => r.status === 200, {
      ms: 20000,
      interval: 200,
      what: "/readyz 200 once PostgreSQL is back",
    });
    // The ingest is back too: an outbox row arrives.
    const row = once(s, "notification", 25000, { rejectOn: [] });
    await pollUntil(
      () => psql(pg, outboxRows("f-store", 100, 1)).then(() => true, () => false),
      (inserted) => inserted,
      { ms: 20000, interval: 200, what: "rollcall_outbox writable" },
    );
    // (the live event of data 3 may come first)
    const got = [await row];
    if (got[0][0].type !== "row") got.push(await once(s, "notification", 25000));
    assert.equal(got.at(-1)[0].data.i, 100);
    const [history] = await ackWithin(s, WAIT_MS, "notifications:list", {});
    assert.deepEqual(history.items.map((n) => n.data.i ?? n.data), [100, 3, 1]);
  });
});
