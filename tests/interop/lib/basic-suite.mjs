// The checks that polling.test.mjs and websocket.test.mjs share, run with
// socket.io-client restricted to one transport.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  ack,
  closeAll,
  connect,
  mixedText,
  once,
  startServer,
  welcome,
} from "./server.mjs";

/** Defines the shared tests for `transport` ("polling" or "websocket") under a describe block. */
export function basicSuite(transport, extra = () => {}) {
  describe(`socket.io-client over ${transport} only`, () => {
    const opts = { transports: [transport] };
    const ctx = { server: null, opts };

    before(async () => {
      // recovery off: server emits carry no trailing offset argument
      ctx.server = await startServer({ args: ["--recovery-ms", "0"] });
    });
    afterEach(closeAll);
    after(async () => {
      await closeAll();
      await ctx.server?.stop();
    });

    it(`connects and uses only the ${transport} transport`, async () => {
      const socket = await connect(ctx.server.url, opts);
      assert.equal(socket.connected, true);
      assert.equal(socket.io.engine.transport.name, transport);
      assert.equal(typeof socket.id, "string");
      assert.notEqual(socket.id, socket.io.engine.id, "the socket id must not be the Engine.IO session id");
      // still on the same transport after a round trip
      await ack(socket, "echo", "x");
      assert.equal(socket.io.engine.transport.name, transport);
    });

    it('"welcome" carries the socket id, recovered=false, the auth object and nsp "/"', async () => {
      const auth = { user: "alice", n: 1, nested: { ok: true } };
      const socket = await connect(ctx.server.url, { ...opts, auth });
      assert.deepEqual(await welcome(socket), { id: socket.id, recovered: false, auth, nsp: "/" });
    });

    it('"welcome" auth is {} when the client sends no auth', async () => {
      const socket = await connect(ctx.server.url, opts);
      assert.deepEqual((await welcome(socket)).auth, {});
    });

    it('"echo" with an ack is acknowledged with exactly the same arguments', async () => {
      const socket = await connect(ctx.server.url, opts);
      const args = [1, "two", { three: [true, null] }, [4.5, -6], null, false, "ünïcødé 😀", ""];
      assert.deepEqual(await ack(socket, "echo", ...args), args);
      assert.deepEqual(await ack(socket, "echo"), [], "an ack with no arguments");
    });

    it('"echo" without an ack comes back as a server-emitted "echo" event', async () => {
      const socket = await connect(ctx.server.url, opts);
      socket.emit("echo", "hello", 42, { a: [1, 2] });
      assert.deepEqual(await socket.log.take("echo"), ["hello", 42, { a: [1, 2] }]);
    });

    it("a 100 KB message crosses in both directions (ack and event)", async () => {
      const socket = await connect(ctx.server.url, opts);
      const text = mixedText(100_000);
      const [back] = await ack(socket, "echo", text);
      assert.equal(back.length, text.length);
      assert.ok(back === text, "100 KB string changed in transit");
      socket.emit("echo", { text });
      const [event] = await socket.log.take("echo");
      assert.ok(event.text === text, "100 KB string changed in transit (event)");
    });

    it("200 emits issued in one tick all arrive, in order, and 200 concurrent acks all resolve", async () => {
      const socket = await connect(ctx.server.url, opts);
      for (let i = 0; i < 200; i++) socket.emit("echo", i);
      const events = await socket.log.takeN("echo", 200, 15000);
      assert.deepEqual(
        events.map((args) => args[0]),
        Array.from({ length: 200 }, (_, i) => i),
      );
      const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => ack(socket, "echo", i, `#${i}`)));
      acks.forEach((args, i) => assert.deepEqual(args, [i, `#${i}`]));
    });

    it("an idle session stays connected across several ping cycles", async () => {
      const fast = await startServer({ args: ["--recovery-ms", "0", "--ping-interval", "150", "--ping-timeout", "2000"] });
      try {
        const socket = await connect(fast.url, opts);
        for (let i = 0; i < 3; i++) await once(socket.io, "ping", 3000);
        assert.equal(socket.connected, true);
        assert.deepEqual(await ack(socket, "echo", "still here"), ["still here"]);
      } finally {
        await closeAll();
        await fast.stop();
      }
    });

    extra(ctx);
  });
}
