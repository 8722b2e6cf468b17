// Acknowledgements: client→server, server→client (request-ack), timeouts on
// both sides.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ack, ackWithin, closeAll, connect, startServer } from "./lib/server.mjs";

let server;
before(async () => {
  server = await startServer({ args: ["--recovery-ms", "0"] });
});
after(async () => {
  await closeAll();
  await server?.stop();
});

for (const transport of ["polling", "websocket"]) {
  describe(`acknowledgements over ${transport}`, () => {
    const opts = { transports: [transport] };
    afterEach(closeAll);

    it("client→server: the server acknowledges with all the arguments", async () => {
      const socket = await connect(server.url, opts);
      assert.deepEqual(await ack(socket, "echo", "a", 1, { b: [2] }), ["a", 1, { b: [2] }]);
      // emitWithAck resolves with the first ack argument
      assert.equal(await socket.timeout(5000).emitWithAck("echo", "first", "second"), "first");
    });

    it("client→server: 100 concurrent acks are each matched to their own emit", async () => {
      const socket = await connect(server.url, opts);
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => ack(socket, "echo", i, `id-${i}`)));
      results.forEach((r, i) => assert.deepEqual(r, [i, `id-${i}`]));
    });

    it("server→client: request-ack returns the client's ack arguments", async () => {
      const socket = await connect(server.url, opts);
      socket.on("question", (payload, reply) => reply("answer", payload, 3));
      const [result] = await ack(socket, "request-ack", "question", { q: 1 }, 3000);
      assert.deepEqual(result, { ok: true, response: ["answer", { q: 1 }, 3] });
    });

    it("server→client: an ack with no arguments gives an empty response", async () => {
      const socket = await connect(server.url, opts);
      socket.on("question", (_payload, reply) => reply());
      const [result] = await ack(socket, "request-ack", "question", null, 3000);
      assert.deepEqual(result, { ok: true, response: [] });
    });

    it("server ack timeout: the client never answers → {ok:false, error:'timeout'} after the timeout", async () => {
      const socket = await connect(server.url, opts);
      let received = null;
      socket.on("unanswered", (payload) => {
        received = payload; // never calls the ack
      });
      const t0 = Date.now();
      const [result] = await ackWithin(socket, 5000, "request-ack", "unanswered", "hello?", 300);
      const elapsed = Date.now() - t0;
      assert.deepEqual(result, { ok: false, error: "timeout" });
      assert.equal(received, "hello?", "the client did receive the event");
      assert.ok(elapsed >= 250, `timed out after only ${elapsed} ms (timeout 300 ms)`);
    });

    it("a late client ack after the server timed out is ignored and the connection stays usable", async () => {
      const socket = await connect(server.url, opts);
      let lateReply = null;
      socket.on("slow", (_payload, reply) => {
        lateReply = reply;
      });
      const [result] = await ackWithin(socket, 5000, "request-ack", "slow", 1, 200);
      assert.deepEqual(result, { ok: false, error: "timeout" });
      assert.equal(typeof lateReply, "function");
      lateReply("too late");
      assert.deepEqual(await ack(socket, "echo", "alive"), ["alive"]);
      assert.equal(socket.connected, true);
    });

    it("client-side timeout: emitWithAck for an event nobody acknowledges rejects", async () => {
      const socket = await connect(server.url, opts);
      const t0 = Date.now();
      await assert.rejects(socket.timeout(200).emitWithAck("no-such-event"), /timed out/);
      assert.ok(Date.now() - t0 >= 190);
      assert.equal(socket.connected, true, "an unhandled event must not disconnect the socket");
      assert.deepEqual(await ack(socket, "echo", "after"), ["after"]);
    });
  });
}
