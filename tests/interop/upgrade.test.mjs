// Default transports: the session starts on HTTP long-polling and upgrades to
// WebSocket; nothing is lost, duplicated or reordered across the upgrade.
//
// With a fast server the upgrade can complete before the Socket.IO CONNECT,
// so that no application traffic would use polling at all. The ordering tests
// therefore hold the client's WebSocket probe (gatedWebSocket) until traffic
// is flowing over polling, then let the upgrade run under that traffic.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  NodeXHR,
  ack,
  closeAll,
  gatedWebSocket,
  makeSocket,
  once,
  startServer,
  waitConnected,
} from "./lib/server.mjs";
import { RawWs, RS, decodePayload, poll, pollingHandshake, post, wsUrl } from "./lib/raw.mjs";

describe("polling → websocket upgrade", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "0"] });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it('with default transports the engine starts on "polling" and ends on "websocket" after "upgrade"', async () => {
    const socket = makeSocket(server.url);
    const engine = socket.io.engine;
    assert.equal(engine.transport.name, "polling");
    const upgraded = once(engine, "upgrade", 10000, { rejectOn: ["upgradeError"] });
    await waitConnected(socket);
    await upgraded;
    assert.equal(engine.transport.name, "websocket");
    assert.equal(socket.connected, true);
    assert.deepEqual(await ack(socket, "echo", "over websocket"), ["over websocket"]);
  });

  it("events emitted before connect, on polling, while upgrading and on websocket all arrive once, in order", async () => {
    const gate = gatedWebSocket();
    const socket = makeSocket(server.url, { transports: [NodeXHR, gate.Transport] });
    const engine = socket.io.engine;
    const sent = [];
    const emit = (phase) => {
      for (let i = 0; i < 50; i++) {
        const n = sent.length;
        sent.push(n);
        socket.emit("echo", n, phase);
      }
    };
    const upgraded = once(engine, "upgrade", 10000, { rejectOn: ["upgradeError"] });
    // "upgrading": the probe succeeded and polling is being paused; the engine
    // buffers these and flushes them on the WebSocket after the upgrade.
    engine.once("upgrading", () => emit("upgrading"));
    engine.once("upgrade", () => emit("websocket"));

    emit("before-connect"); // buffered by the client until the CONNECT reply
    await waitConnected(socket);
    assert.equal(engine.transport.name, "polling");
    emit("polling");
    // let the probe start while the server still has echoes of the polling
    // phase to deliver
    gate.open();
    await upgraded;

    const events = await socket.log.takeN("echo", 200, 15000);
    assert.deepEqual(
      events.map(([n]) => n),
      sent,
    );
    assert.deepEqual(
      [...new Set(events.map(([, phase]) => phase))],
      ["before-connect", "polling", "upgrading", "websocket"],
    );
    assert.equal(socket.log.count("echo"), 0, "duplicated echo events");
    assert.equal(engine.transport.name, "websocket");
  });

  it("200 sequential echo acks running across the upgrade all succeed, in order", async () => {
    const gate = gatedWebSocket();
    const socket = makeSocket(server.url, { transports: [NodeXHR, gate.Transport] });
    const engine = socket.io.engine;
    let upgradedAt = -1;
    let i = 0;
    engine.once("upgrade", () => {
      upgradedAt = i;
    });
    const upgraded = once(engine, "upgrade", 15000, { rejectOn: ["upgradeError"] });
    for (; i < 200; i++) {
      if (i === 50) {
        assert.equal(engine.transport.name, "polling", "acks 0..49 must have used polling");
        gate.open();
      }
      assert.deepEqual(await ack(socket, "echo", i, { seq: i }), [i, { seq: i }]);
    }
    await upgraded;
    assert.ok(upgradedAt >= 50, `upgrade at ack ${upgradedAt}`);
    assert.equal(engine.transport.name, "websocket");
    assert.deepEqual(await ack(socket, "echo", "after"), ["after"]);
  });

  it("after the upgrade, polling requests for the session are rejected with 400", async () => {
    const socket = makeSocket(server.url);
    const upgraded = once(socket.io.engine, "upgrade", 10000, { rejectOn: ["upgradeError"] });
    await waitConnected(socket);
    await upgraded;
    const res = await poll(server.base, "/socket.io/", socket.io.engine.id);
    assert.equal(res.status, 400);
    // the session itself is unaffected
    assert.deepEqual(await ack(socket, "echo", "ok"), ["ok"]);
  });

  it("raw: events posted before and during the probe and sent after it are echoed once, in order", async () => {
    const path = "/socket.io/";
    const { sid, status } = await pollingHandshake(server.base, path);
    assert.equal(status, 200);
    const received = []; // Socket.IO packets (text) received over polling, then websocket
    const drain = async () => {
      const res = await poll(server.base, path, sid);
      assert.equal(res.status, 200);
      for (const p of decodePayload(res.body)) {
        if (p === "6" || p === "2") continue;
        assert.ok(typeof p === "string" && p.startsWith("4"), `unexpected packet ${p}`);
        received.push(p.slice(1));
      }
    };
    const echoes = () => received.filter((p) => p.startsWith('2["echo"')).length;
    const postEchoes = async (from, to) => {
      const body = [];
      for (let n = from; n < to; n++) body.push(`42["echo",${n}]`);
      const res = await post(server.base, path, sid, body.join(RS));
      assert.equal(res.status, 200);
    };

    assert.equal((await post(server.base, path, sid, "40")).status, 200);
    while (!received.some((p) => p.startsWith("0"))) await drain();
    await postEchoes(0, 10);
    while (echoes() < 10) await drain();

    const raw = await RawWs.open(wsUrl(server.base, path, { sid }));
    raw.send("2probe");
    assert.equal(await raw.next(), "3probe");
    // still on polling until "5": data goes through POST, and a GET returns
    // queued packets or a noop
    await postEchoes(10, 20);
    await drain();
    raw.send("5");
    for (let n = 20; n < 30; n++) raw.send(`42["echo",${n}]`);
    while (echoes() < 30) {
      const frame = await raw.next();
      if (frame === "2" || frame === "6") continue;
      assert.ok(typeof frame === "string" && frame.startsWith("4"), `unexpected frame ${frame}`);
      received.push(frame.slice(1));
    }
    const seq = received.filter((p) => p.startsWith('2["echo"')).map((p) => JSON.parse(p.slice(1))[1]);
    assert.deepEqual(
      seq,
      Array.from({ length: 30 }, (_, n) => n),
    );
  });
});
