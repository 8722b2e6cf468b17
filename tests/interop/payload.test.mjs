// --max-payload: oversized messages end the offending connection (and only
// it); the server stays up.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ack, closeAll, connect, mixedText, once, startServer, welcome } from "./lib/server.mjs";
import { RS, poll, pollingHandshake, post } from "./lib/raw.mjs";

const LIMIT = 10000;

describe(`max payload (--max-payload ${LIMIT})`, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--max-payload", String(LIMIT), "--recovery-ms", "0"] });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  async function serverStillServes() {
    const fresh = await connect(server.url, { transports: ["websocket"] });
    assert.deepEqual(await ack(fresh, "echo", "alive"), ["alive"]);
  }

  it("the open packet advertises maxPayload 10000", async () => {
    const { handshake } = await pollingHandshake(server.base, "/socket.io/");
    assert.equal(handshake.maxPayload, LIMIT);
  });

  for (const transport of ["websocket", "polling"]) {
    it(`${transport}: a message under the limit (5 KB) is echoed`, async () => {
      const socket = await connect(server.url, { transports: [transport] });
      const text = mixedText(2500); // ~5 KB of UTF-8
      assert.deepEqual(await ack(socket, "echo", text), [text]);
    });

    it(`${transport}: a 50 KB message disconnects that client; other clients and the server are unaffected`, async () => {
      const bystander = await connect(server.url, { transports: ["websocket"] });
      const socket = await connect(server.url, { transports: [transport] });
      await welcome(socket);
      const down = once(socket, "disconnect", 10000);
      socket.emit("echo", "x".repeat(50_000));
      const [reason] = await down;
      assert.ok(["transport close", "transport error"].includes(reason), `disconnect reason: ${reason}`);
      assert.equal(bystander.connected, true);
      assert.deepEqual(await ack(bystander, "echo", "bystander"), ["bystander"]);
      await serverStillServes();
    });
  }

  it("polling, raw: an oversized POST to a live session gets HTTP 413 and the session is closed", async () => {
    const path = "/socket.io/";
    const { sid } = await pollingHandshake(server.base, path);
    assert.equal((await post(server.base, path, sid, "40")).status, 200);
    const connected = await poll(server.base, path, sid);
    assert.ok(connected.body.startsWith("40"), `CONNECT reply expected, got ${connected.body.slice(0, 80)}`);

    const big = `42${JSON.stringify(["echo", "y".repeat(50_000)])}`;
    const res = await post(server.base, path, sid, `4${big}`);
    assert.equal(res.status, 413);
    const after413 = await poll(server.base, path, sid);
    assert.equal(after413.status, 400, "the session must be closed after a 413");
    await serverStillServes();
  });

  it("polling, raw: several packets that together exceed the limit in one POST also get 413", async () => {
    const path = "/socket.io/";
    const { sid } = await pollingHandshake(server.base, path);
    const packets = Array.from({ length: 20 }, (_, i) => `42["echo",${JSON.stringify("z".repeat(900) + i)}]`);
    const res = await post(server.base, path, sid, `40${RS}${packets.map((p) => `4${p}`).join(RS)}`);
    assert.equal(res.status, 413);
    await serverStillServes();
  });
});
