// Organisation notifications across a cluster (docs/notifications.md,
// "In a cluster"): two rollcalld nodes on one Redis with the PostgreSQL
// store and ingest. A user with a tab on each node gets each notification
// once per tab whichever node takes it in, read state reaches the tabs on
// the other node, and outbox rows and NOTIFY bodies, which every node
// hears, are each published once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { clusterKeys, dropKeys, startNode } from "./lib/cluster.mjs";
import { freshDatabase, literal, outboxRows, psql } from "./lib/pg.mjs";
import { redisCommand } from "./lib/resp.mjs";
import { api, apiRequest, connectUser, tokenFor } from "./lib/rollcalld.mjs";
import { ackWithin, closeAll, expectNoEvent, once, pollUntil, recordEvents, WAIT_MS } from "./lib/server.mjs";


describe("notifications in a 2-node cluster", () => {
  let cl;
  let db;
  let a;
  let b;
  const channel = `rc_cluster_${process.pid}`;

  before(async () => {
    cl = await clusterKeys("notify");
    db = await freshDatabase("cluster");
    const overrides = { store: { url: db.url }, notifications: { postgres_url: db.url, channel } };
    a = await startNode(cl, "na", { overrides });
    b = await startNode(cl, "nb", { overrides });
    await pollUntil(
      () => redisCommand(cl.port, ["PUBSUB", "NUMSUB", `${cl.adapterKey}-request#/#`]),
      (r) => Number(r[1]) === 2,
      { ms: 10000, what: "both nodes subscribed" },
    );
  });
  after(async () => {
    await closeAll();
    await a?.stop();
    await b?.stop();
    if (cl) await dropKeys(cl);
    await db?.drop();
  });

  it("reaches the user's tabs on both nodes once, and syncs read state across nodes", async () => {
    const token = tokenFor("c-ann", { orgs: [{ id: "c-acme", role: "admin" }] });
    const onA = await connectUser(a.url, token);
    const onB = await connectUser(b.url, token);
    const logs = [recordEvents(onA, "notification"), recordEvents(onB, "notification")];
    const res = await apiRequest(a, "POST", "/v1/notifications", {
      audience: { orgs: ["c-acme"] },
      type: "t",
      data: { x: 1 },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.recipients, 1);
    for (const log of logs) await log.waitFor(1);
    // The history is shared: node B lists what node A stored.
    const [list] = await ackWithin(onB, WAIT_MS, "notifications:list", {});
    assert.equal(list.items[0].id, res.json.id);

    const told = once(onB, "notifications:read");
    const notAsker = expectNoEvent(onA, "notifications:read", 500);
    const [ack] = await ackWithin(onA, WAIT_MS, "notifications:read", { ids: [res.json.id] });
    assert.deepEqual(ack, { unread: 0 });
    assert.deepEqual((await told)[0], { ids: [res.json.id], unread: 0 });
    await notAsker;
    for (const log of logs) assert.equal(log.length, 1);
  });

  it("publishes each outbox row and each NOTIFY body once, though both nodes listen", async () => {
    const onA = await connectUser(a.url, tokenFor("c-rows"));
    const onB = await connectUser(b.url, tokenFor("c-rows"));
    const logs = [recordEvents(onA, "notification"), recordEvents(onB, "notification")];
    const rows = 200;
    for (let i = 0; i < 4; ++i) {
      await psql(db, outboxRows("c-rows", i * 50, 50));
    }
    const body = JSON.stringify({ audience: { users: ["c-rows"] }, type: "notify", data: { i: "n" } });
    await psql(db, `select pg_notify(${literal(channel)}, ${literal(body)})`);
    for (const log of logs) await log.waitFor(rows + 1, 20000);
    // A last marker through one node: once it arrived everywhere, nothing else is on its way.
    const marker = await apiRequest(b, "POST", "/v1/notifications", { audience: { users: ["c-rows"] }, type: "marker", data: {} });
    assert.equal(marker.status, 201);
    for (const log of logs) await log.waitFor(rows + 2);
    for (const log of logs) {
      const ids = log.map(([n]) => n.id);
      assert.equal(new Set(ids).size, ids.length, "no notification twice");
      const seen = log.filter(([n]) => n.type === "row").map(([n]) => n.data.i).sort((x, y) => x - y);
      assert.deepEqual(seen, Array.from({ length: rows }, (_, i) => i));
      assert.equal(log.filter(([n]) => n.type === "notify").length, 1);
    }
    const stored = (await api(a, "/v1/users/c-rows/notifications?limit=200")).json;
    assert.equal(stored.unread, rows + 2);
    assert.equal((await psql(db, "select count(*) from rollcall_outbox"))[0][0], "0");
  });
});
