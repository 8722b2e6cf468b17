// socket.io-client with transports ["polling"] only, plus raw polling checks.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { basicSuite } from "./lib/basic-suite.mjs";
import { http, eioUrl, poll, pollingHandshake } from "./lib/raw.mjs";
import { closeAll, connect, elapse, startServer } from "./lib/server.mjs";

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

describe("polling: the pong deadline on a busy loop", () => {
  let server;
  before(async () => {
    // One loop, so the stalled socket and the polling session share it.
    server = await startServer({ args: ["--threads", "1", "--ping-interval", "300", "--ping-timeout", "200"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("a GET that arrives after the pong deadline gets 400 even when the loop had not yet run the timeout", async () => {
    const staller = await connect(server.url, { transports: ["websocket"] });
    const { sid } = await pollingHandshake(server.base, "/socket.io/");
    // The first GET carries the server's ping: the pong is due 200 ms later.
    const ping = await poll(server.base, "/socket.io/", sid);
    assert.equal(ping.body, "2");
    // The loop is now busy until well past that deadline; the next GET is
    // sent after it, so when the loop wakes up it holds both the overdue
    // timeout and the GET.
    staller.emit("stall", 900);
    await elapse(400, "past the pong deadline, while the loop is stalled");
    const res = await poll(server.base, "/socket.io/", sid);
    assert.equal(res.status, 400, `the session should be gone, got ${res.status} ${res.body}`);
    assert.deepEqual(JSON.parse(res.body), { code: 1, message: "Session ID unknown" });
  });
});
