// Cross-node Socket.IO on Redis (docs/cluster.md, "Cross-node Socket.IO"):
// two rollcall nodes (rollcall-interop-server --redis) and a Node socket.io
// 4.8 server with the classic @socket.io/redis-adapter 8 on the same Redis
// and key, real socket.io-client connections on each, and the
// @socket.io/redis-emitter 5. Every operation started on any node must
// reach the matching sockets of every node exactly once.
//
// "Nothing else arrived" is checked without sleeping: a marker broadcast
// from the same node follows the event under test on the same channel
// pattern, so it arrives after it.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

import { clusterKeys, dropKeys, startNode, startNodePeer } from "./lib/cluster.mjs";
import { connectUser, postEmit, tokenFor } from "./lib/rollcalld.mjs";
import { ack, closeAll, connect, join, once, pollUntil, startServer, withDeadline } from "./lib/server.mjs";

const ws = { transports: ["websocket"] };

describe("cluster adapter: rollcall nodes and a Node peer on one Redis", () => {
  let cl;
  let r1;
  let r2;
  let peer;
  let emitterClient;
  before(async () => {
    cl = await clusterKeys("adapter");
    const args = ["--redis", cl.redisUrl, "--adapter-key", cl.adapterKey, "--recovery-ms", "0"];
    r1 = await startServer({ args: [...args, "--node-id", "r1"] });
    r2 = await startServer({ args: [...args, "--node-id", "r2"] });
    peer = await startNodePeer(cl.redisUrl, cl.adapterKey);
    emitterClient = createClient({ url: cl.redisUrl });
    await emitterClient.connect();
    // Every node has subscribed once NUMSUB counts three.
    await pollUntil(
      () => emitterClient.pubSubNumSub(`${cl.adapterKey}-request#/#`),
      (r) => r[`${cl.adapterKey}-request#/#`] === 3,
      { ms: 10000, what: "three nodes subscribed" },
    );
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await emitterClient?.quit();
    await peer?.stop();
    await r1?.stop();
    await r2?.stop();
    if (cl) await dropKeys(cl);
  });

  const onR1 = () => connect(r1.url, ws);
  const onR2 = () => connect(r2.url, ws);
  const onNode = () => connect(peer.url, ws);

  /** Counts `event` per socket until every socket got "marker" (sent by `sendMarker`). */
  async function countUntilMarker(sockets, event, sendMarker) {
    const counts = sockets.map(() => 0);
    const seen = sockets.map(() => []);
    sockets.forEach((s, i) =>
      s.on(event, (...a) => {
        counts[i]++;
        seen[i].push(a);
      }),
    );
    const markers = sockets.map((s) => once(s, "marker", 10000));
    await sendMarker();
    await Promise.all(markers);
    sockets.forEach((s) => s.off(event));
    return { counts, seen };
  }

  for (const [from, pick] of [
    ["rollcall", (s) => s[0]],
    ["Node", (s) => s[4]],
  ]) {
    it(`a room broadcast from ${from} reaches the members on every node once, and nobody else`, async () => {
      const sockets = [await onR1(), await onR1(), await onR2(), await onR2(), await onNode(), await onNode()];
      for (const i of [0, 2, 4]) await join(sockets[i], "blue");
      const sender = pick(sockets);
      const ids = sockets.map((s) => s.id);
      const { counts } = await countUntilMarker(sockets, "news", async () => {
        await ack(sender, "to-rooms", ["blue"], "news", "hello");
        await ack(sender, "to-rooms", ids, "marker");
      });
      assert.deepEqual(counts, [1, 0, 1, 0, 1, 0]);
    });
  }

  it("except leaves out a room's members on every node", async () => {
    const sockets = [await onR1(), await onR2(), await onNode(), await onR1()];
    for (const s of sockets) await join(s, "all-of-us");
    await join(sockets[1], "quiet");
    await join(sockets[2], "quiet");
    const { counts } = await countUntilMarker(sockets, "news", async () => {
      await ack(sockets[3], "except", "all-of-us", "quiet", "news", 1);
      await ack(sockets[3], "to-rooms", ["all-of-us"], "marker");
    });
    assert.deepEqual(counts, [1, 0, 0, 1]);
  });

  it("binary arguments cross intact in both directions", async () => {
    const [a, n] = [await onR1(), await onNode()];
    await join(a, "bin");
    await join(n, "bin");
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    for (const sender of [a, n]) {
      const got = [once(a, "blob"), once(n, "blob")];
      await ack(sender, "to-rooms", ["bin"], "blob", { nested: bytes }, bytes);
      for (const [obj, raw] of await Promise.all(got)) {
        assert.deepEqual(Buffer.from(obj.nested), bytes);
        assert.deepEqual(Buffer.from(raw), bytes);
      }
    }
  });

  it("fetchSockets from Node sees rollcall's sockets with their rooms and data, and rollcall sees Node's", async () => {
    const [a, b, n] = [await onR1(), await onR2(), await onNode()];
    for (const s of [a, b, n]) await join(s, "fetched");
    await ack(a, "set-data", { who: "a", n: 1 });
    await ack(n, "set-data", { who: "n" });
    const [fromNode] = await ack(n, "fetch", "fetched");
    assert.deepEqual(fromNode.map((s) => s.id).sort(), [a.id, b.id, n.id].sort());
    const sa = fromNode.find((s) => s.id === a.id);
    assert.deepEqual(sa.rooms.sort(), [a.id, "fetched"].sort());
    assert.deepEqual(sa.data, { who: "a", n: 1 });
    assert.equal(typeof sa.handshake.address, "string");
    const [fromRollcall] = await ack(b, "fetch", "fetched");
    assert.deepEqual(fromRollcall.map((s) => s.id).sort(), [a.id, b.id, n.id].sort());
    assert.deepEqual(fromRollcall.find((s) => s.id === n.id).data, { who: "n" });
  });

  it("socketsJoin from Node puts rollcall's sockets in the room; disconnectSockets from rollcall reaches Node's", async () => {
    const [a, b, n] = [await onR1(), await onR2(), await onNode()];
    for (const s of [a, b, n]) await join(s, "joiners");
    await ack(n, "join-room-everywhere", "joiners", "joined");
    // A later broadcast to the new room reaches all three (the join was
    // applied on every node before the marker broadcast that follows it).
    const { counts } = await countUntilMarker([a, b, n], "ping", async () => {
      await pollUntil(
        async () => (await ack(n, "fetch", "joined"))[0].length,
        (len) => len === 3,
        { what: "three sockets in 'joined'" },
      );
      await ack(n, "to-rooms", ["joined"], "ping");
      await ack(n, "to-rooms", ["joiners"], "marker");
    });
    assert.deepEqual(counts, [1, 1, 1]);
    const gone = [once(n, "disconnect"), once(b, "disconnect")];
    await ack(a, "join", "a-only");
    await join(n, "doomed");
    await join(b, "doomed");
    await ack(a, "disconnect-room", "doomed");
    const reasons = await withDeadline(Promise.all(gone), 10000, "disconnects");
    assert.deepEqual(reasons.map(([r]) => r), ["io server disconnect", "io server disconnect"]);
    assert.equal(a.connected, true);
  });

  it("serverSideEmit with acks: rollcall hears every other node, Node hears both rollcall nodes", async () => {
    const [a, n] = [await onR1(), await onNode()];
    const [fromRollcall] = await ack(a, "ask-servers", "q1");
    assert.equal(fromRollcall.timedOut, false);
    assert.equal(fromRollcall.responses.length, 2);
    assert.ok(fromRollcall.responses.some((r) => r.node === true), JSON.stringify(fromRollcall));
    const [fromNode] = await ack(n, "ask-servers", "q2");
    assert.equal(fromNode.timedOut, false, JSON.stringify(fromNode));
    assert.equal(fromNode.responses.length, 2);
    assert.deepEqual(fromNode.responses.map((r) => r.asked), ["q2", "q2"]);
  });

  it("a Node peer's allRooms() includes the rooms of rollcall's sockets", async () => {
    const [a, b, n] = [await onR1(), await onR2(), await onNode()];
    await join(a, "room-on-r1");
    await join(b, "room-on-r2");
    const [rooms] = await ack(n, "all-rooms");
    for (const r of ["room-on-r1", "room-on-r2", a.id, b.id, n.id]) assert.ok(rooms.includes(r), `${r} in ${rooms}`);
  });

  it("broadcasts with acks collect the answers of clients on every node", async () => {
    const sockets = [await onR1(), await onR2(), await onNode()];
    sockets.forEach((s, i) => s.on("ask", (q, cb) => cb(`answer-${i}`)));
    for (const s of sockets) await join(s, "askers");
    for (const sender of [sockets[0], sockets[2]]) {
      const [r] = await ack(sender, "ask-room", "askers", 3000);
      assert.equal(r.timedOut, false, JSON.stringify(r));
      assert.deepEqual(r.responses.sort(), ["answer-0", "answer-1", "answer-2"]);
    }
  });

  it("@socket.io/redis-emitter reaches the clients of every node", async () => {
    const sockets = [await onR1(), await onR2(), await onNode()];
    for (const s of sockets) await join(s, "emitted");
    const emitter = new Emitter(emitterClient, { key: cl.adapterKey });
    const got = sockets.map((s) => once(s, "from-emitter"));
    emitter.to("emitted").emit("from-emitter", { ok: true }, Buffer.from([7, 8]));
    for (const [obj, bin] of await Promise.all(got)) {
      assert.deepEqual(obj, { ok: true });
      assert.deepEqual(Buffer.from(bin), Buffer.from([7, 8]));
    }
  });
  // Last: the Node peer may not survive the junk.
  it("malformed messages on the cluster's channels are dropped; the rollcall nodes keep working", async () => {
    const k = cl.adapterKey;
    const junk = [Buffer.from([0xc1]), Buffer.from("{not json"), Buffer.from([0x93, 0xa1]), Buffer.from(""),
      Buffer.from(JSON.stringify({ type: 99, uid: "x" })), Buffer.from(JSON.stringify({ type: 5, uid: "x" })),
      Buffer.alloc(70000, 0xdc)];
    for (const payload of junk) {
      for (const ch of [`${k}#/#`, `${k}#/#room#`, `${k}-request#/#`, `${k}-response#/#`]) {
        await emitterClient.publish(ch, payload);
      }
    }
    // (Node's adapter does not survive all of these: the Node peer is left out.)
    const [a, b] = [await onR1(), await onR2()];
    for (const s of [a, b]) await join(s, "after-junk");
    const got = [a, b].map((s) => once(s, "still"));
    await ack(b, "to-rooms", ["after-junk"], "still", 1);
    await Promise.all(got);
    assert.equal(r1.alive() && r2.alive(), true);
  });
});

describe("POST /v1/emit across nodes", () => {
  let cl;
  let n1;
  let n2;
  let peer;
  before(async () => {
    cl = await clusterKeys("emit");
    n1 = await startNode(cl, "emit-1");
    n2 = await startNode(cl, "emit-2");
    peer = await startNodePeer(cl.redisUrl, cl.adapterKey);
  });
  after(async () => {
    await closeAll();
    await peer?.stop();
    for (const n of [n1, n2]) {
      await n?.stop();
      n?.cleanup();
    }
    if (cl) await dropKeys(cl);
  });

  it("reaches the matching sockets on every rollcalld node and on the Node peer", async () => {
    const u = await connectUser(n2.url, tokenFor("emit-user"));
    const other = await connectUser(n1.url, tokenFor("emit-other"));
    const n = await connect(peer.url, ws);
    await join(n, "user:emit-user");
    const got = [once(u, "note"), once(n, "note")];
    const res = await postEmit(n1, { rooms: ["user:emit-user"], event: "note", data: ["hi"] });
    assert.equal(res.status, 202);
    for (const [x] of await Promise.all(got)) assert.equal(x, "hi");
    assert.equal(other.connected, true);
  });
});
