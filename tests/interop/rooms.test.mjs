// Rooms, broadcasts, volatile emits, server-side disconnects and the
// disconnect reasons the server reports (seen by an "observers" socket).
//
// "Nothing else arrived" is checked without sleeping: after the event under
// test, a marker is sent to the same sockets; events to one socket are
// ordered, so once the marker is in, anything unwanted would be in too.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";

import {
  ack,
  closeAll,
  connect,
  join,
  leave,
  observe,
  once,
  startServer,
} from "./lib/server.mjs";
import { sioWsConnect } from "./lib/raw.mjs";

const ws = { transports: ["websocket"] };

describe("rooms and broadcasts", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "0"] });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  const clients = (n, opts = ws) => Promise.all(Array.from({ length: n }, () => connect(server.url, opts)));

  it("join and leave acknowledge the socket's sorted room list (which includes its own id)", async () => {
    const [s] = await clients(1);
    assert.deepEqual(await join(s, "b"), [s.id, "b"].sort());
    assert.deepEqual(await join(s, "a"), [s.id, "a", "b"].sort());
    assert.deepEqual(await join(s, "a"), [s.id, "a", "b"].sort(), "joining twice changes nothing");
    assert.deepEqual(await leave(s, "b"), [s.id, "a"].sort());
    assert.deepEqual(await leave(s, "not-joined"), [s.id, "a"].sort());
  });

  it("fetch_sockets sees the matching sockets of every loop with their rooms, data and handshake", async () => {
    const [a, b, c] = await clients(3);
    await join(a, "fetch-room");
    await join(c, "fetch-room");
    await ack(c, "set-data", { role: "editor" });
    const [inRoom] = await ack(b, "fetch", "fetch-room");
    assert.deepEqual(
      inRoom.map((s) => s.id),
      [a.id, c.id].sort(),
    );
    const cs = inRoom.find((s) => s.id === c.id);
    assert.deepEqual(cs.rooms, [c.id, "fetch-room"]);
    assert.deepEqual(cs.data, { role: "editor" });
    assert.deepEqual(Object.keys(cs.handshake).sort(), ["address", "auth", "headers", "issued", "query", "secure", "time", "url", "xdomain"]);
    assert.equal(cs.handshake.query.EIO, "4");
    assert.equal(cs.handshake.query.transport, "websocket");
    assert.match(cs.handshake.time, /^\w{3} \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT\+0000/);
    const [all] = await ack(b, "fetch");
    for (const s of [a, b, c]) assert.ok(all.some((f) => f.id === s.id), `${s.id} missing from the namespace`);
    assert.deepEqual(await ack(b, "fetch", "nobody-here"), [[]]);
  });

  it("emit_with_ack to a room collects one answer per member, and reports the members that did not answer in time", async () => {
    const [asker, a, b, c] = await clients(4);
    for (const s of [a, b, c]) await join(s, "ask-room");
    a.on("ask", (q, cb) => cb(`a:${q}`));
    b.on("ask", (q, cb) => cb(`b:${q}`));
    c.on("ask", (q, cb) => cb(`c:${q}`));
    const [all] = await ack(asker, "ask-room", "ask-room", 2000);
    assert.equal(all.timedOut, false);
    assert.deepEqual(all.responses.sort(), ["a:question", "b:question", "c:question"]);
    c.off("ask");
    c.on("ask", () => {});  // never answers
    const [some] = await ack(asker, "ask-room", "ask-room", 300);
    assert.equal(some.timedOut, true);
    assert.deepEqual(some.responses.sort(), ["a:question", "b:question"]);
    const [none] = await ack(asker, "ask-room", "nobody-in-it", 300);
    assert.deepEqual(none, { timedOut: false, responses: [] });
  });

  it("to-rooms with overlapping rooms delivers exactly once per socket, and only to members", async () => {
    const [a, b, c, sender] = await clients(4);
    await Promise.all([join(a, "r1"), join(a, "r2"), join(b, "r2"), join(c, "elsewhere")]);
    await ack(sender, "to-rooms", ["r1", "r2"], "evt", { n: 1 });
    await ack(sender, "to-rooms", ["r1", "r2", "elsewhere"], "marker", null);
    for (const s of [a, b, c]) await s.log.take("marker");
    assert.deepEqual(await a.log.take("evt"), [{ n: 1 }]);
    assert.deepEqual(await b.log.take("evt"), [{ n: 1 }]);
    assert.equal(a.log.count("evt"), 0, "a (in r1 and r2) got the event twice");
    assert.equal(b.log.count("evt"), 0);
    assert.equal(c.log.count("evt"), 0, "c is in neither room");
    assert.equal(sender.log.count("evt"), 0, "the sender is in neither room");
  });

  it("a socket's own id works as a room for to-rooms", async () => {
    const [a, sender] = await clients(2);
    await ack(sender, "to-rooms", [a.id], "direct", "hi");
    assert.deepEqual(await a.log.take("direct"), ["hi"]);
  });

  it("except: members of the excluded room do not receive", async () => {
    const [inBoth, inRoom, inExcept, sender] = await clients(4);
    await Promise.all([join(inBoth, "room"), join(inBoth, "ex"), join(inRoom, "room"), join(inExcept, "ex")]);
    await ack(sender, "except", "room", "ex", "evt", "payload");
    await ack(sender, "to-rooms", ["room", "ex"], "marker", null);
    for (const s of [inBoth, inRoom, inExcept]) await s.log.take("marker");
    assert.deepEqual(await inRoom.log.take("evt"), ["payload"]);
    assert.equal(inBoth.log.count("evt"), 0, "in the excluded room too");
    assert.equal(inExcept.log.count("evt"), 0, "not in the target room");
  });

  it("broadcast reaches every other socket of / but not the sender", async () => {
    const [sender, b, c] = await clients(3);
    const polling = await connect(server.url, { transports: ["polling"] });
    await ack(sender, "broadcast", "bc", { from: "sender" });
    for (const s of [b, c, polling]) assert.deepEqual(await s.log.take("bc"), [{ from: "sender" }]);
    // b's broadcast reaches the first sender; its "bc" would have come first
    await ack(b, "broadcast", "marker", null);
    await sender.log.take("marker");
    assert.equal(sender.log.count("bc"), 0, "the sender received its own broadcast");
  });

  it("volatile: delivered to a connected, idle websocket client", async () => {
    const [s] = await clients(1);
    s.emit("volatile", "vol", { v: 1 });
    assert.deepEqual(await s.log.take("vol"), [{ v: 1 }]);
  });

  it('disconnect-room disconnects exactly the room members, with client reason "io server disconnect"', async () => {
    const [a, b, c, sender] = await clients(4);
    await Promise.all([join(a, "kick"), join(b, "kick"), join(c, "stay")]);
    const reasons = Promise.all([a, b].map((s) => once(s, "disconnect")));
    await ack(sender, "disconnect-room", "kick");
    for (const [reason] of await reasons) assert.equal(reason, "io server disconnect");
    assert.equal(c.connected, true);
    assert.equal(sender.connected, true);
    assert.deepEqual(await ack(c, "echo", "c ok"), ["c ok"]);
    assert.deepEqual(await ack(sender, "echo", "sender ok"), ["sender ok"]);
  });

  describe("disconnect reasons reported by the server", () => {
    let observer;
    // the observer is closed with every other socket after each test
    beforeEach(async () => {
      observer = await observe(server.url);
    });

    it('client socket.disconnect() → "client namespace disconnect"', async () => {
      const [s] = await clients(1);
      const id = s.id;
      s.disconnect();
      assert.deepEqual(await observer.reasonFor(id), { id, nsp: "/", reason: "client namespace disconnect" });
    });

    it('server disconnect-me(false) → "server namespace disconnect"; the client sees "io server disconnect"', async () => {
      const [s] = await clients(1);
      const id = s.id;
      const closed = once(s, "disconnect");
      s.emit("disconnect-me", false);
      assert.equal((await closed)[0], "io server disconnect");
      assert.deepEqual(await observer.reasonFor(id), { id, nsp: "/", reason: "server namespace disconnect" });
    });

    it('server disconnect-me(true) also closes the engine session: still "server namespace disconnect"', async () => {
      const [s] = await clients(1);
      const id = s.id;
      const engineClosed = once(s.io.engine, "close");
      s.emit("disconnect-me", true);
      assert.equal((await once(s, "disconnect"))[0], "io server disconnect");
      assert.deepEqual(await observer.reasonFor(id), { id, nsp: "/", reason: "server namespace disconnect" });
      await engineClosed;
    });

    it('client engine closed (socket.io.engine.close()) → "transport close"', async () => {
      for (const transport of ["websocket", "polling"]) {
        const s = await connect(server.url, { transports: [transport] });
        const id = s.id;
        s.io.engine.close();
        assert.deepEqual(
          await observer.reasonFor(id),
          { id, nsp: "/", reason: "transport close" },
          `over ${transport}`,
        );
      }
    });

    it('underlying TCP connection destroyed (no close frame) → "transport close"', async () => {
      const [s] = await clients(1);
      const id = s.id;
      s.io.engine.transport.ws._socket.destroy();
      assert.deepEqual(await observer.reasonFor(id), { id, nsp: "/", reason: "transport close" });
    });

    it('a socket of another namespace is reported with its namespace', async () => {
      const s = await connect(`${server.url}/dyn-obs`, ws);
      const id = s.id;
      s.disconnect();
      assert.deepEqual(await observer.reasonFor(id), { id, nsp: "/dyn-obs", reason: "client namespace disconnect" });
    });

    it('a raw client sending an invalid Engine.IO packet ("abc") → "parse error", and its session is closed', async () => {
      const { raw, sid } = await sioWsConnect(server.base);
      raw.send("abc");
      assert.deepEqual(await observer.reasonFor(sid), { id: sid, nsp: "/", reason: "parse error" });
      await raw.waitClose();
    });

    // Node (socket.io 4.8.4, checked) reports a Socket.IO-level decode error
    // as "forced close": the Client closes the engine session itself. Only an
    // Engine.IO-level decode error is "parse error".
    it('a raw client sending an undecodable Socket.IO packet ("4abc") → "forced close", and its session is closed', async () => {
      const { raw, sid } = await sioWsConnect(server.base);
      raw.send("4abc");
      assert.deepEqual(await observer.reasonFor(sid), { id: sid, nsp: "/", reason: "forced close" });
      await raw.waitClose();
    });
  });

  describe("ping timeout", () => {
    let fast;
    before(async () => {
      fast = await startServer({ args: ["--recovery-ms", "0", "--ping-interval", "200", "--ping-timeout", "200"] });
    });
    after(async () => {
      await closeAll();
      await fast?.stop();
    });

    it('a raw websocket client that never answers pings → "ping timeout"', async () => {
      const observer = await observe(fast.url);
      const { raw, sid } = await sioWsConnect(fast.base, { autoPong: false });
      const t0 = Date.now();
      assert.deepEqual(await observer.reasonFor(sid, 5000), { id: sid, nsp: "/", reason: "ping timeout" });
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 300, `ping timeout reported after only ${elapsed} ms (interval 200 + timeout 200)`);
      await raw.waitClose();
      assert.equal(observer.socket.connected, true, "the observer (answering pings) stays connected");
    });
  });
});
