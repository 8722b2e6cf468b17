// socket.io-client with transports ["polling"] only, plus raw polling checks.
import assert from "node:assert/strict";
import { it } from "node:test";

import { basicSuite } from "./lib/basic-suite.mjs";
import { http, eioUrl, pollingHandshake } from "./lib/raw.mjs";

basicSuite("polling", (ctx) => {
  it("the polling handshake is an open packet with exactly the five keys and the default settings", async () => {
    const res = await pollingHandshake(ctx.server.base, "/socket.io/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.ok(res.body.startsWith("0"), `open packet expected, got ${res.body}`);
    assert.deepEqual(Object.keys(res.handshake).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.match(res.handshake.sid, /^[A-Za-z0-9_-]{16,}$/);
    assert.deepEqual(res.handshake.upgrades, ["websocket"]);
    assert.equal(res.handshake.pingInterval, 25000);
    assert.equal(res.handshake.pingTimeout, 20000);
    assert.equal(res.handshake.maxPayload, 1000000);
  });

  it("CORS: any Origin is allowed on requests and preflights", async () => {
    const origin = "http://localhost:5173";
    const res = await http(eioUrl(ctx.server.base, "/socket.io/"), { headers: { Origin: origin } });
    assert.equal(res.status, 200);
    assert.ok(
      [origin, "*"].includes(res.headers.get("access-control-allow-origin")),
      `access-control-allow-origin: ${res.headers.get("access-control-allow-origin")}`,
    );
    const pre = await http(eioUrl(ctx.server.base, "/socket.io/"), {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
    });
    assert.ok([200, 204].includes(pre.status), `preflight status ${pre.status}`);
    assert.ok(
      [origin, "*"].includes(pre.headers.get("access-control-allow-origin")),
      `preflight access-control-allow-origin: ${pre.headers.get("access-control-allow-origin")}`,
    );
  });
});
