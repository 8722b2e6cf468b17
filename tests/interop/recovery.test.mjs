// Connection state recovery (server --recovery-ms): same socket id, rooms and
// missed events after a transport loss; no recovery after the window expired
// or after an explicit disconnect.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  NodeWebSocket,
  NodeXHR,
  ack,
  closeAll,
  connect,
  elapse,
  join,
  leave,
  observe,
  once,
  startServer,
  transportGate,
  waitConnected,
  welcome,
} from "./lib/server.mjs";
import { sioWsConnect } from "./lib/raw.mjs";

const ws = { transports: ["websocket"] };

/** Kills c's engine session from the client side and waits until the server reported the disconnect. */
async function killTransport(c, observer) {
  const id = c.id;
  const down = once(c, "disconnect");
  c.io.engine.close();
  await down;
  const seen = await observer.reasonFor(id);
  assert.equal(seen.reason, "transport close");
}

// The auth object of a reconnecting client also holds its pid and offset (Node
// keeps them in handshake.auth), so only id, recovered and nsp are compared.
function assertRecoveredWelcome(w, id) {
  assert.equal(w.id, id);
  assert.equal(w.recovered, true);
  assert.equal(w.nsp, "/");
}

describe("connection state recovery (--recovery-ms 5000)", () => {
  let server;
  let observer;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "5000"] });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("after the transport is killed, the reconnected socket keeps its id and rooms and gets the missed events in order", async () => {
    observer = await observe(server.url);
    // Default transports (polling, then the websocket upgrade). The polling
    // transport is gated so that the automatic reconnection attempt is held
    // until the missed events have been issued.
    const polling = transportGate(NodeXHR);
    const c1 = await connect(server.url, {
      transports: [polling.Transport, NodeWebSocket],
      reconnection: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 50,
      randomizationFactor: 0,
    });
    const first = await welcome(c1);
    assert.equal(first.recovered, false);
    const id = c1.id;
    await join(c1, "r");
    const c2 = await connect(server.url, ws);

    await ack(c2, "to-rooms", ["r"], "before", 0);
    assert.equal((await c1.log.take("before"))[0], 0);

    polling.close();
    const attempt = once(c1.io, "reconnect_attempt", 5000);
    await killTransport(c1, observer);
    await attempt; // the client is reconnecting (held by the gate)
    for (let n = 1; n <= 3; n++) await ack(c2, "to-rooms", ["r"], "missed", n);

    const reconnected = once(c1, "connect", 10000);
    polling.open();
    await reconnected;
    assert.equal(c1.recovered, true);
    assert.equal(c1.id, id);

    const missed = await c1.log.takeN("missed", 3);
    assert.deepEqual(
      missed.map((args) => args[0]),
      [1, 2, 3],
    );
    for (const args of missed) assert.equal(typeof args[1], "string", "missed events carry their offset");
    assertRecoveredWelcome(await welcome(c1), id);

    // still in room "r"
    await ack(c2, "to-rooms", ["r"], "after", 4);
    assert.equal((await c1.log.take("after"))[0], 4);
    assert.deepEqual(await leave(c1, "not-joined"), [id, "r"].sort());
    assert.equal(c1.log.count("before"), 0, "an event received before the disconnect was replayed");
    assert.equal(c1.log.count("missed"), 0, "a missed event was delivered twice");
  });

  it("a manual reconnect (socket.connect()) after a transport loss also recovers", async () => {
    observer = await observe(server.url);
    const c1 = await connect(server.url, ws);
    await welcome(c1);
    const id = c1.id;
    await join(c1, "manual");
    await killTransport(c1, observer);
    c1.connect();
    await waitConnected(c1);
    assert.equal(c1.recovered, true);
    assert.equal(c1.id, id);
    assert.deepEqual(await leave(c1, "not-joined"), [id, "manual"].sort());
  });

  it("automatic reconnection of a websocket-only client recovers the session", async () => {
    observer = await observe(server.url);
    const c1 = await connect(server.url, {
      ...ws,
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 100,
      randomizationFactor: 0,
    });
    await welcome(c1);
    const id = c1.id;
    await join(c1, "auto");
    const reconnected = once(c1, "connect", 10000);
    c1.io.engine.close();
    await reconnected;
    assert.equal(c1.recovered, true);
    assert.equal(c1.id, id);
    assertRecoveredWelcome(await welcome(c1), id);
    const c2 = await connect(server.url, ws);
    await ack(c2, "to-rooms", ["auto"], "still-in-room", "yes");
    assert.equal((await c1.log.take("still-in-room"))[0], "yes");
  });

  it("an explicit client disconnect is not recoverable: a new socket id", async () => {
    const c1 = await connect(server.url, ws);
    await welcome(c1);
    const id = c1.id;
    c1.disconnect();
    c1.connect();
    await waitConnected(c1);
    assert.ok(!c1.recovered, "recovered after an explicit disconnect");
    assert.notEqual(c1.id, id);
    assert.equal((await welcome(c1)).recovered, false);
  });

  it("with recovery on, CONNECT replies carry a pid and plain emits a trailing offset; acks and volatile emits do not", async () => {
    const { raw, connect: reply } = await sioWsConnect(server.base);
    assert.deepEqual(Object.keys(reply).sort(), ["pid", "sid"]);
    raw.close();

    const c1 = await connect(server.url, ws);
    const args = await c1.log.take("welcome");
    assert.equal(args.length, 2);
    assert.equal(typeof args[1], "string");
    assert.deepEqual(await ack(c1, "echo", "x", 1), ["x", 1]);
    c1.emit("volatile", "vol", "v");
    assert.deepEqual(await c1.log.take("vol"), ["v"]);
  });
});

describe("connection state recovery window expired (--recovery-ms 300)", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "300"] });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("reconnecting after the window gives recovered=false, a new id and no rooms", async () => {
    const observer = await observe(server.url);
    const c1 = await connect(server.url, ws);
    await welcome(c1);
    const id = c1.id;
    await join(c1, "r");
    await killTransport(c1, observer);
    await elapse(600, "let the 300 ms recovery window expire");
    c1.connect();
    await waitConnected(c1);
    assert.ok(!c1.recovered, "recovered after the window expired");
    assert.notEqual(c1.id, id);
    assert.equal((await welcome(c1)).recovered, false);
    assert.deepEqual(await leave(c1, "not-joined"), [c1.id]);
  });
});
