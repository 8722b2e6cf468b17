// socket.io-client with transports ["websocket"] only, plus raw `ws` handshake checks.
import assert from "node:assert/strict";
import { it } from "node:test";

import { basicSuite } from "./lib/basic-suite.mjs";
import { sioWsConnect, wsHandshake } from "./lib/raw.mjs";

basicSuite("websocket", (ctx) => {
  it("a raw websocket handshake gets an open packet with exactly the five keys and upgrades []", async () => {
    const { handshake } = await wsHandshake(ctx.server.base, "/socket.io/");
    assert.deepEqual(Object.keys(handshake).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.match(handshake.sid, /^[A-Za-z0-9_-]{16,}$/);
    assert.deepEqual(handshake.upgrades, []);
    assert.equal(handshake.pingInterval, 25000);
    assert.equal(handshake.pingTimeout, 20000);
    assert.equal(handshake.maxPayload, 1000000);
  });

  it("the CONNECT reply ({sid} only, recovery off) and the welcome event arrive as separate frames", async () => {
    const { raw, sid, connect, handshake } = await sioWsConnect(ctx.server.base);
    assert.deepEqual(Object.keys(connect), ["sid"]);
    assert.notEqual(sid, handshake.sid, "socket id must differ from the Engine.IO sid");
    const frame = await raw.next();
    assert.equal(typeof frame, "string");
    assert.ok(frame.startsWith('42["welcome",'), `expected the welcome event as its own frame, got ${frame}`);
    const [name, data] = JSON.parse(frame.slice(2));
    assert.equal(name, "welcome");
    assert.deepEqual(data, { id: sid, recovered: false, auth: {}, nsp: "/" });
  });
});
