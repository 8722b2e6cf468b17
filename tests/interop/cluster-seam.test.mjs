// The ClusterAdapter seam with real clients on two "nodes": the interop
// server's --pair runs a second Server in the same process, joined to the
// first by a loopback adapter (what one node hands to its adapter is
// applied to the other, locally). Each operation must reach the sockets of
// both nodes exactly once, and server-side events only the other node.
//
// "Nothing else arrived" is checked without sleeping: a marker broadcast
// follows the event under test on the same sockets.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ack, closeAll, connect, join, once, startServer } from "./lib/server.mjs";

const ws = { transports: ["websocket"] };

describe("cluster adapter seam (two servers in one process)", () => {
  let server;
  let peerUrl;
  before(async () => {
    server = await startServer({ args: ["--pair", "--recovery-ms", "0"] });
    const m = /^peer (\d+)$/m.exec(server.output().stdout);
    assert.ok(m, `no "peer <port>" line in ${server.output().stdout}`);
    peerUrl = `http://127.0.0.1:${m[1]}`;
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  const onA = () => connect(server.url, ws);
  const onB = () => connect(peerUrl, ws);

  // Counts the `event`s each socket gets until the marker arrives.
  async function countUntilMarker(sockets, event, sendMarker) {
    const counts = sockets.map(() => 0);
    sockets.forEach((s, i) => s.on(event, () => counts[i]++));
    const markers = sockets.map((s) => once(s, "marker"));
    await sendMarker();
    await Promise.all(markers);
    sockets.forEach((s) => s.off(event));
    return counts;
  }

  it("a broadcast to a room reaches its members on both nodes once, and nobody else", async () => {
    const [a1, a2, b1, b2] = [await onA(), await onA(), await onB(), await onB()];
    await join(a1, "r");
    await join(b1, "r");
    const everyone = [a1, a2, b1, b2];
    const got = [0, 0, 0, 0];
    everyone.forEach((s, i) => s.on("news", (x) => x === "hello" && got[i]++));
    const markers = everyone.map((s) => once(s, "marker"));
    await ack(a2, "to-rooms", ["r"], "news", "hello");
    await ack(b2, "to-rooms", [a1.id, a2.id, b1.id, b2.id], "marker");
    await Promise.all(markers);
    assert.deepEqual(got, [1, 0, 1, 0]);
  });

  it("binary arguments cross to the other node intact", async () => {
    const [a, b] = [await onA(), await onB()];
    await join(b, "bin");
    const received = once(b, "blob");
    await ack(a, "to-rooms", ["bin"], "blob", Buffer.from([0, 1, 2, 255]), { n: 1 });
    const [blob] = await received;
    assert.deepEqual([...blob], [0, 1, 2, 255]);
  });

  it("fetch_sockets sees the sockets of both nodes", async () => {
    const [a, b] = [await onA(), await onB()];
    await join(a, "f");
    await join(b, "f");
    const [found] = await ack(a, "fetch", "f");
    assert.deepEqual(found.map((s) => s.id).sort(), [a.id, b.id].sort());
    assert.deepEqual(found.find((s) => s.id === b.id).rooms, [b.id, "f"]);
  });

  it("disconnecting a room disconnects its members on both nodes", async () => {
    const [a, b, bystander] = [await onA(), await onB(), await onB()];
    await join(a, "gone");
    await join(b, "gone");
    const reasons = [once(a, "disconnect"), once(b, "disconnect")];
    await ack(bystander, "disconnect-room", "gone");
    const [[ra], [rb]] = await Promise.all(reasons);
    assert.equal(ra, "io server disconnect");
    assert.equal(rb, "io server disconnect");
    assert.ok(bystander.connected);
  });

  it("a broadcast with acks collects the answers of both nodes' sockets", async () => {
    const [asker, a, b] = [await onA(), await onA(), await onB()];
    for (const s of [a, b]) await join(s, "ask");
    a.on("ask", (q, cb) => cb(`a:${q}`));
    b.on("ask", (q, cb) => cb(`b:${q}`));
    const [res] = await ack(asker, "ask-room", "ask", 2000);
    assert.equal(res.timedOut, false);
    assert.deepEqual(res.responses.sort(), ["a:question", "b:question"]);
  });

  it("server-side events reach the other node's handlers, not the sender's", async () => {
    const a = await onA();
    const [res] = await ack(a, "ask-servers", "hi");
    assert.equal(res.timedOut, false);
    assert.equal(res.responses.length, 1);
    assert.equal(`http://127.0.0.1:${res.responses[0].port}`, peerUrl);
    assert.equal(res.responses[0].asked, "hi");
  });

  it("the counts of a room broadcast are exactly one per member after many broadcasts from both nodes", async () => {
    const sockets = [await onA(), await onA(), await onB(), await onB()];
    for (const s of sockets) await join(s, "many");
    const counts = await countUntilMarker(sockets, "tick", async () => {
      for (let i = 0; i < 20; i++) await ack(sockets[i % 4], "to-rooms", ["many"], "tick", i);
      await ack(sockets[0], "to-rooms", ["many"], "marker");
    });
    assert.deepEqual(counts, [20, 20, 20, 20]);
  });
});
