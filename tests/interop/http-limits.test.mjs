// HTTP front end limits (docs/deployment.md, "HTTP limits"): every request
// the server refuses gets its status (413, 431, 400) and Connection: close,
// the configured limits decide (server.max_payload for Engine.IO bodies,
// api.max_body for /v1), routes match exactly, and the API's JSON stays
// valid UTF-8. Raw `net` sockets: fetch and socket.io-client would refuse
// to send most of these requests, or hide what the server answered.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";

import { ack, closeAll, connect, pollUntil, startServer, WAIT_MS, withDeadline } from "./lib/server.mjs";
import { serverSocket } from "./lib/tcp.mjs";
import { pollingHandshake, poll } from "./lib/raw.mjs";
import { API_KEY, connectUser, presenceConfig, startRollcalld, tokenFor } from "./lib/rollcalld.mjs";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Writes `parts` (strings or Buffers) on a new connection and reads one
 * response. Resolves { status, headers (lower-case names), body (Buffer),
 * json, ms (time to the complete response), closed (a promise: the server
 * closed the connection) }. A reset after the response is ignored.
 */
function exchange(server, parts, { ms = WAIT_MS, end = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = net.createConnection({ host: "127.0.0.1", port: server.port, noDelay: true });
    let buf = Buffer.alloc(0);
    let done = false;
    let onClose;
    const closed = new Promise((r) => (onClose = r));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response within ${ms} ms; got ${JSON.stringify(buf.toString("latin1").slice(0, 300))}`));
    }, ms);
    const tryParse = () => {
      const endHead = buf.indexOf("\r\n\r\n");
      if (endHead < 0 || done) return;
      const lines = buf.subarray(0, endHead).toString("latin1").split("\r\n");
      const status = Number(lines[0].split(" ")[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      if (buf.length < endHead + 4 + length) return;
      done = true;
      clearTimeout(timer);
      const body = buf.subarray(endHead + 4, endHead + 4 + length);
      let json = null;
      try {
        json = JSON.parse(utf8.decode(body));
      } catch {
        // not JSON (or not UTF-8: the tests check)
      }
      resolve({ status, headers, body, json, ms: Date.now() - started, closed, socket: sock });
    };
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      tryParse();
    });
    sock.on("error", () => {}); // a reset after the answer (the rest of our body unread)
    sock.on("close", () => {
      onClose();
      if (!done) {
        clearTimeout(timer);
        reject(new Error(`connection closed without a complete response; got ${JSON.stringify(buf.toString("latin1").slice(0, 300))}`));
      }
    });
    sock.once("connect", () => {
      for (const p of parts) sock.write(p);
      if (end) sock.end();
    });
  });
}

/** Resolves with the bytes the server sent before closing (for requests that get no answer). */
function silence(server, parts, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: "127.0.0.1", port: server.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connection still open after ${ms} ms`));
    }, ms);
    sock.on("data", (d) => (buf = Buffer.concat([buf, d])));
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(buf);
    });
    sock.once("connect", () => {
      for (const p of parts) sock.write(p);
      sock.end();
    });
  });
}

const withKey = `Authorization: Bearer ${API_KEY}\r\n`;

function assertRefused(res, status) {
  assert.equal(res.status, status, `status ${res.status}, body ${res.body}`);
  assert.equal(res.headers.connection?.toLowerCase(), "close", "a refusal closes the connection");
  return res.closed;
}

describe("HTTP limits of rollcalld (api.max_body 1024, log level debug)", () => {
  let rc;
  before(async () => {
    rc = await startRollcalld({
      config: presenceConfig({ overrides: { api: { max_body: 1024 }, log: { level: "debug" } } }),
    });
  });
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
  });

  it("a 20 KB header gets 431 and the connection is closed", async () => {
    const res = await exchange(rc, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`]);
    await assertRefused(res, 431);
    assert.match(res.json.error, /header fields too large/);
    // The same on the Engine.IO path, and with the header in pieces.
    const eio = await exchange(rc, [
      "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n",
      ...Array.from({ length: 40 }, (_, i) => `X-Field-${i}: ${"b".repeat(500)}\r\n`),
      "\r\n",
    ]);
    await assertRefused(eio, 431);
    assert.match(rc.output().stderr, /http 127\.0\.0\.1: 431 request header fields too large/);
  });

  it("a 20 KB header sent in two reads (each under the limit) still gets 431: the limit counts the whole header", async () => {
    const sock = net.createConnection({ host: "127.0.0.1", port: rc.port, noDelay: true });
    sock.on("error", () => {});
    let got = "";
    sock.on("data", (d) => (got += d.toString("latin1")));
    const closed = new Promise((r) => sock.once("close", r));
    await withDeadline(new Promise((r) => sock.once("connect", r)), WAIT_MS, "TCP connect");
    const half = Array.from({ length: 20 }, (_, i) => `X-Field-${i}: ${"b".repeat(500)}\r\n`).join("");
    sock.write(`GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n${half}`);
    // The server has read the first half (its receive queue is empty) before
    // the second is sent, so the two halves arrive in two reads.
    await pollUntil(() => serverSocket(rc.port, sock.localPort), (x) => x !== null && x.rxQueue === 0, {
      what: "the server to read the first half of the header",
    });
    sock.write(`${half.replaceAll("X-Field-", "X-More-")}\r\n`);
    await withDeadline(closed, WAIT_MS, "the server to answer and close");
    assert.match(got, /^HTTP\/1\.1 431 /, got.slice(0, 200));
  });

  it("Content-Length with Transfer-Encoding, two Content-Length, a bad chunk or a non-chunked Transfer-Encoding get 400", async () => {
    const requests = {
      "CL then TE": "POST /v1/presence/users/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "TE then CL": "POST /v1/presence/users/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
      "two CL": "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
      "bad chunk": `POST /v1/presence/users/x HTTP/1.1\r\nHost: x\r\n${withKey}Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n`,
      "TE gzip": "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "bad request line": "GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    };
    for (const [what, bytes] of Object.entries(requests)) {
      const res = await exchange(rc, [bytes]);
      await assertRefused(res, 400);
      assert.match(res.json?.error ?? "", /^bad request: /, `${what}: ${res.body}`);
    }
    assert.match(rc.output().stderr, /http 127\.0\.0\.1: 400 .*bad request: /);
  });

  it("a Content-Length of 10^18 on /v1 gets 413 at once, without reading a body", async () => {
    const res = await exchange(rc, [
      `POST /v1/presence/users/x HTTP/1.1\r\nHost: x\r\n${withKey}Content-Length: 1000000000000000000\r\n\r\n`,
    ]);
    await assertRefused(res, 413);
    assert.deepEqual(res.json, { error: "payload too large (limit 1024 bytes)" });
    assert.ok(res.ms < 1000, `answered after ${res.ms} ms`);
    assert.match(rc.output().stderr, /http 127\.0\.0\.1: 413 POST \/v1\/presence\/users\/x: body above the limit of 1024 bytes/);
  });

  it("a chunked body growing past api.max_body gets 413; one within it reaches the API", async () => {
    const chunk = `400\r\n${"c".repeat(1024)}\r\n`;
    const big = await exchange(rc, [
      `POST /v1/presence/users/x HTTP/1.1\r\nHost: x\r\n${withKey}Transfer-Encoding: chunked\r\n\r\n`,
      chunk,
      chunk,
      "0\r\n\r\n",
    ]);
    await assertRefused(big, 413);
    const small = await exchange(rc, [
      `POST /v1/presence/users/x HTTP/1.1\r\nHost: x\r\n${withKey}Content-Length: 1024\r\n\r\n${"d".repeat(1024)}`,
    ]);
    assert.equal(small.status, 405, "the API itself answers (it takes GET only)");
    assert.equal(small.headers.allow, "GET");
    small.socket.destroy();
  });

  it("routes match exactly: /healthzXYZ and POST /healthz/x are 404, POST /healthz is 405", async () => {
    const get = (path, method = "GET") => exchange(rc, [`${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`]);
    const ok = await get("/healthz");
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { status: "ok" });
    assert.equal(ok.headers.connection?.toLowerCase() ?? "keep-alive", "keep-alive", "a good request keeps the connection");
    ok.socket.destroy();
    for (const [method, path] of [["GET", "/healthzXYZ"], ["POST", "/healthz/x"], ["GET", "/healthz/"], ["GET", "/v1"]]) {
      const res = await get(path, method);
      assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${res.body}`);
      res.socket.destroy();
    }
    const post = await get("/healthz", "POST");
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET");
    post.socket.destroy();
  });

  it("/v1/presence/users/%FF%FE gets 400 in valid JSON; JSON answers stay valid UTF-8", async () => {
    const res = await exchange(rc, [`GET /v1/presence/users/%FF%FE HTTP/1.1\r\nHost: x\r\n${withKey}\r\n`]);
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(utf8.decode(res.body)), { error: "user id is not valid UTF-8" });
    res.socket.destroy();
    const org = await exchange(rc, [`GET /v1/presence/online?org=%C0%AF HTTP/1.1\r\nHost: x\r\n${withKey}\r\n`]);
    assert.equal(org.status, 400);
    assert.deepEqual(JSON.parse(utf8.decode(org.body)), { error: "org is not valid UTF-8" });
    org.socket.destroy();
    // Valid UTF-8 ids are served (and echoed) as before.
    const name = "zoë-日本";
    const ok = await exchange(rc, [`GET /v1/presence/users/${encodeURIComponent(name)} HTTP/1.1\r\nHost: x\r\n${withKey}\r\n`]);
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(utf8.decode(ok.body)), { user: name, online: false, connections: 0 });
    ok.socket.destroy();
  });

  it("a User-Agent that is not UTF-8 (bytes 0x80-0xFF) reaches the presence JSON as valid UTF-8 (read as ISO-8859-1)", async () => {
    const s = await connectUser(rc.url, tokenFor("ua-latin1"), { extraHeaders: { "user-agent": "caf\u00e9 \u00ff" } });
    const res = await pollUntil(
      () => exchange(rc, [`GET /v1/presence/users/ua-latin1 HTTP/1.1\r\nHost: x\r\n${withKey}\r\n`]),
      (r) => {
        r.socket.destroy();
        return r.status === 200 && r.json?.online === true;
      },
      { what: "ua-latin1 online in the API" },
    );
    const body = JSON.parse(utf8.decode(res.body)); // throws on invalid UTF-8
    assert.equal(body.details[0].userAgent, "caf\u00e9 \u00ff");
    s.disconnect();
  });

  it("a client that closes mid-request gets no answer, and the server carries on", async () => {
    assert.equal((await silence(rc, ["GET /healthz HTTP/1.1\r\nHost"])).length, 0);
    assert.equal((await silence(rc, ["POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"])).length, 0);
    const res = await exchange(rc, ["GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"]);
    assert.equal(res.status, 200);
    res.socket.destroy();
  });
});

describe("Engine.IO bodies are limited by max_payload (default 1000000)", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "0"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("a 2 MB polling POST (over Beast's own 1 MB default too) gets 413 and its session is closed", async () => {
    const { sid } = await pollingHandshake(server.base, "/socket.io/");
    assert.ok(sid);
    const body = `4${"x".repeat(2 * 1024 * 1024)}`;
    const res = await exchange(server, [
      `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n` +
        `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    ]);
    await assertRefused(res, 413);
    assert.deepEqual(res.json, { code: 3, message: "Payload too large" });
    const after = await poll(server.base, "/socket.io/", sid);
    assert.ok(after.status === 400 || after.body.split("\x1e").includes("1"), `GET after 413: ${after.status} ${after.body}`);
  });

  it("a Content-Length above max_payload is refused before the body is sent", async () => {
    const { sid } = await pollingHandshake(server.base, "/socket.io/");
    const res = await exchange(server, [
      `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000001\r\n\r\n`,
    ]);
    await assertRefused(res, 413);
    assert.ok(res.ms < 1000, `answered after ${res.ms} ms`);
    const after = await poll(server.base, "/socket.io/", sid);
    assert.ok(after.status === 400 || after.body.split("\x1e").includes("1"), `GET after 413: ${after.status} ${after.body}`);
  });
});

describe("max_payload above 1 MiB (--max-payload 4194304) works over polling", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--max-payload", "4194304", "--recovery-ms", "0"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("socket.io-client emits a 2 MB string over polling and gets it back in the ack", async () => {
    const socket = await connect(server.url, { transports: ["polling"] });
    const big = "y".repeat(2 * 1024 * 1024);
    const [back] = await ack(socket, "echo", big);
    assert.equal(back.length, big.length);
    assert.equal(back, big);
  });
});
