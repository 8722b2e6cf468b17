// Binary arguments (Buffer / Uint8Array) in both directions, nested, with
// several attachments, and in acknowledgements, over polling and websocket.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ack, ackWithin, closeAll, connect, patternBytes, startServer } from "./lib/server.mjs";

let server;
before(async () => {
  server = await startServer({ args: ["--recovery-ms", "0"] });
});
after(async () => {
  await closeAll();
  await server?.stop();
});

for (const transport of ["polling", "websocket"]) {
  describe(`binary over ${transport}`, () => {
    const opts = { transports: [transport] };
    afterEach(closeAll);

    it("a Buffer argument is acknowledged back byte-for-byte, as a Buffer", async () => {
      const socket = await connect(server.url, opts);
      const buf = Buffer.from([0, 1, 2, 127, 128, 254, 255]);
      const [back] = await ack(socket, "echo", buf);
      assert.ok(Buffer.isBuffer(back), `expected a Buffer, got ${typeof back}`);
      assert.deepEqual(back, buf);
    });

    it("a Uint8Array argument comes back with the same bytes", async () => {
      const socket = await connect(server.url, opts);
      const u8 = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      const [back] = await ack(socket, "echo", u8);
      assert.ok(back instanceof Uint8Array);
      assert.deepEqual(Buffer.from(back), Buffer.from(u8));
    });

    it("empty and 256 KB buffers survive the round trip", async () => {
      const socket = await connect(server.url, opts);
      const big = patternBytes(256 * 1024, 7);
      const [empty, large] = await ack(socket, "echo", Buffer.alloc(0), big);
      assert.deepEqual(empty, Buffer.alloc(0));
      assert.ok(large.equals(big), "256 KB buffer changed in transit");
    });

    it("buffers nested in objects and arrays (5 attachments) keep their places, via ack and via event", async () => {
      const socket = await connect(server.url, opts);
      const payload = {
        name: "nested",
        top: Buffer.from("top"),
        list: [Buffer.from([1]), "text", { deep: Buffer.from([2, 2]), n: 3 }],
        more: { a: [null, true, Buffer.from([3, 3, 3])], placeholder_like: { _placeholder: false, num: 0 } },
      };
      const tail = Buffer.from("last");
      const expected = [payload, 42, tail];
      assert.deepEqual(await ack(socket, "echo", payload, 42, tail), expected);
      socket.emit("echo", payload, 42, tail);
      assert.deepEqual(await socket.log.take("echo"), expected);
    });

    it("binary and text events interleaved keep their order and their attachments", async () => {
      const socket = await connect(server.url, opts);
      for (let i = 0; i < 30; i++) {
        if (i % 3 === 0) socket.emit("echo", i, Buffer.from([i, i + 1]), [Buffer.from([i])]);
        else socket.emit("echo", i, `text-${i}`);
      }
      const events = await socket.log.takeN("echo", 30, 10000);
      events.forEach((args, i) => {
        if (i % 3 === 0) assert.deepEqual(args, [i, Buffer.from([i, i + 1]), [Buffer.from([i])]]);
        else assert.deepEqual(args, [i, `text-${i}`]);
      });
    });

    it("binary in a server→client event and in the client's ack (request-ack) is preserved", async () => {
      const socket = await connect(server.url, opts);
      socket.on("bin-question", (payload, reply) => {
        reply({ got: payload, extra: Buffer.from([0xca, 0xfe]) }, Buffer.from([0xff]));
      });
      const sentPayload = { blob: Buffer.from([1, 2, 3]), list: [Buffer.from([4]), Buffer.from([5, 6])] };
      const [result] = await ackWithin(socket, 5000, "request-ack", "bin-question", sentPayload, 3000);
      assert.deepEqual(result, {
        ok: true,
        response: [{ got: sentPayload, extra: Buffer.from([0xca, 0xfe]) }, Buffer.from([0xff])],
      });
    });
  });
}
