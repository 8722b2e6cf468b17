// socket.io-client with transports ["websocket"] only, plus raw `ws` handshake checks.
import assert from "node:assert/strict";
import { it } from "node:test";

import { basicSuite } from "./lib/basic-suite.mjs";
import { clientTextFrame, sioWsConnect, tcpWebSocket, upgradeRequest, wsHandshake } from "./lib/raw.mjs";
import { elapse } from "./lib/util.mjs";

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

  // The server opens WebSocket sessions on a fast path when the whole
  // request is in its first read, and on the general HTTP path otherwise.
  const checkOpenThenConnect = async (conn) => {
    assert.equal(conn.status, 101, conn.head);
    assert.match(conn.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/i);
    const open = await conn.next();
    assert.ok(open.startsWith("0{"), `expected the open packet, got ${open}`);
    const reply = await conn.next();
    assert.match(reply, /^40\{"sid":"[^"]+"\}$/);
  };

  it("a CONNECT packet sent in the same write as the upgrade request is answered", async () => {
    const request = Buffer.concat([Buffer.from(upgradeRequest(ctx.server.base)), clientTextFrame("40")]);
    await checkOpenThenConnect(await tcpWebSocket(ctx.server.base, [request]));
  });

  it("an upgrade request that arrives in three pieces is accepted", async () => {
    const request = upgradeRequest(ctx.server.base);
    const parts = [request.slice(0, 20), request.slice(20, 90), request.slice(90)];
    // A pause between the writes makes them separate reads on the server.
    const conn = await tcpWebSocket(ctx.server.base, parts, { between: () => elapse(50, "split the request") });
    conn.socket.write(clientTextFrame("40"));
    await checkOpenThenConnect(conn);
  });

  it("an upgrade request with Sec-WebSocket-Version 8 is answered 400", async () => {
    const conn = await tcpWebSocket(ctx.server.base, [upgradeRequest(ctx.server.base, "/socket.io/", { version: "8" })]);
    assert.equal(conn.status, 400, conn.head);
  });
});
