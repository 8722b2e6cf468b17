// `rollcalld --conformance` re-checked against the behaviours the official
// Engine.IO v4 and Socket.IO v5 protocol test suites exercise, with raw HTTP
// (fetch) and raw WebSocket frames (ws). Reference server settings:
//   /engine.io/  echo server, pingInterval 300, pingTimeout 200, maxPayload 1e6
//   /socket.io/  namespaces / and /custom, connectTimeout 1000, emits "auth"
//                on connection, "message" → "message-back", "message-with-ack" → ack
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { closeAll, elapse, startServer } from "./lib/server.mjs";
import {
  RS,
  RawWs,
  eioUrl,
  http,
  poll,
  pollingHandshake,
  post,
  wsHandshake,
  wsUrl,
} from "./lib/raw.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const CONNECT_TIMEOUT = 1000;
const EIO = "/engine.io/";
const SIO = "/socket.io/";
const OPEN_KEYS = ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"];

let server;
let base;
before(async () => {
  server = await startServer({ bin: "rollcalld", args: ["--conformance"] });
  base = server.base;
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await server?.stop();
});

async function newSid(path = EIO) {
  const res = await pollingHandshake(base, path);
  assert.equal(res.status, 200, `handshake status ${res.status}: ${res.body}`);
  return res.sid;
}

/**
 * There is no observable event for "the server has registered this pending
 * GET": the duplicate-poll checks wait this long before the second request,
 * as the official suite does (it waits 5 ms).
 */
const SETTLE_MS = 50;

/** A ws connection that must end without ever delivering an open packet. */
async function expectWsRefused(url) {
  const raw = new RawWs(url);
  await raw.waitClose();
  assert.ok(!raw.frames.some((f) => typeof f === "string" && f.startsWith("0")), `got an open packet from ${url}`);
}

describe("Engine.IO v4 (/engine.io/)", () => {
  describe("handshake", () => {
    for (const path of [EIO, SIO]) {
      it(`polling ${path}: 200, an open packet with exactly the 5 keys, upgrades ["websocket"], 300/200/1000000`, async () => {
        const res = await pollingHandshake(base, path);
        assert.equal(res.status, 200);
        assert.ok(res.body.startsWith("0"), res.body);
        assert.deepEqual(Object.keys(res.handshake).sort(), OPEN_KEYS);
        assert.equal(typeof res.handshake.sid, "string");
        assert.deepEqual(res.handshake.upgrades, ["websocket"]);
        assert.equal(res.handshake.pingInterval, PING_INTERVAL);
        assert.equal(res.handshake.pingTimeout, PING_TIMEOUT);
        assert.equal(res.handshake.maxPayload, 1000000);
      });

      it(`websocket ${path}: an open packet with exactly the 5 keys, upgrades [], 300/200/1000000`, async () => {
        const { handshake } = await wsHandshake(base, path);
        assert.deepEqual(Object.keys(handshake).sort(), OPEN_KEYS);
        assert.equal(typeof handshake.sid, "string");
        assert.deepEqual(handshake.upgrades, []);
        assert.equal(handshake.pingInterval, PING_INTERVAL);
        assert.equal(handshake.pingTimeout, PING_TIMEOUT);
        assert.equal(handshake.maxPayload, 1000000);
      });
    }

    it("polling: 400 for a missing or invalid EIO", async () => {
      for (const q of ["transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling", "EIO=&transport=polling"]) {
        assert.equal((await http(`${base}${EIO}?${q}`)).status, 400, q);
      }
    });

    it("polling: 400 for a missing or invalid transport", async () => {
      for (const q of ["EIO=4", "EIO=4&transport=abc", "EIO=4&transport="]) {
        assert.equal((await http(`${base}${EIO}?${q}`)).status, 400, q);
      }
    });

    it("400 for a handshake with POST or PUT", async () => {
      for (const method of ["POST", "PUT"]) {
        assert.equal((await http(eioUrl(base, EIO), { method, body: "" })).status, 400, method);
      }
    });

    it("400 for an unknown sid (GET and POST)", async () => {
      assert.equal((await poll(base, EIO, "unknown-sid-000000000")).status, 400);
      assert.equal((await post(base, EIO, "unknown-sid-000000000", "4hello")).status, 400);
    });

    it('error responses are JSON {code, message} as Node sends them (not checked by the suites)', async () => {
      const cases = [
        [`${base}${EIO}?EIO=4&transport=abc`, "GET", 0, "Transport unknown"],
        [eioUrl(base, EIO, { sid: "unknown-sid-000000000" }), "GET", 1, "Session ID unknown"],
        [eioUrl(base, EIO), "POST", 2, "Bad handshake method"],
        [`${base}${EIO}?EIO=abc&transport=polling`, "GET", 5, "Unsupported protocol version"],
      ];
      for (const [url, method, code, message] of cases) {
        const res = await http(url, { method, body: method === "GET" ? undefined : "" });
        assert.equal(res.status, 400, url);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/, url);
        assert.deepEqual(JSON.parse(res.body), { code, message }, url);
      }
    });

    it("websocket: a missing or invalid EIO ends the connection without an open packet", async () => {
      await expectWsRefused(`${base.replace("http", "ws")}${EIO}?transport=websocket`);
      await expectWsRefused(`${base.replace("http", "ws")}${EIO}?EIO=abc&transport=websocket`);
    });

    it("websocket: a missing or invalid transport ends the connection without an open packet", async () => {
      await expectWsRefused(`${base.replace("http", "ws")}${EIO}?EIO=4`);
      await expectWsRefused(`${base.replace("http", "ws")}${EIO}?EIO=4&transport=abc`);
    });
  });

  describe("messages", () => {
    for (const [what, body] of [
      ["one text packet", "4hello"],
      ["several text packets", `4test1${RS}4test2${RS}4test3`],
      ["text and binary packets", `4hello${RS}bAQIDBA==`],
    ]) {
      it(`polling: a payload with ${what} is echoed back identically`, async () => {
        const sid = await newSid();
        const pushed = await post(base, EIO, sid, body);
        assert.equal(pushed.status, 200);
        assert.equal(pushed.body, "ok");
        const polled = await poll(base, EIO, sid);
        assert.equal(polled.status, 200);
        assert.equal(polled.body, body);
      });
    }

    it("websocket: a text packet and a binary frame are echoed back", async () => {
      const { raw } = await wsHandshake(base, EIO);
      raw.send("4hello");
      assert.equal(await raw.next(), "4hello");
      raw.send(Uint8Array.from([1, 2, 3, 4]));
      assert.deepEqual(await raw.next(), Buffer.from([1, 2, 3, 4]));
    });

    it("polling: an invalid packet closes the session (later requests get 400)", async () => {
      const sid = await newSid();
      // The POST itself may be answered (Node: 200 "ok", then closes the
      // session), rejected with 400, or aborted; the suite checks only what follows.
      const res = await post(base, EIO, sid, "abc").catch(() => null);
      if (res) assert.ok([200, 400].includes(res.status), `POST status ${res.status}`);
      assert.equal((await poll(base, EIO, sid)).status, 400);
    });

    it("websocket: an invalid packet closes the connection", async () => {
      const { raw } = await wsHandshake(base, EIO);
      raw.send("abc");
      await raw.waitClose();
    });

    it('polling: a duplicate GET gets 400, the pending GET gets "1", and the session is closed', async () => {
      const sid = await newSid();
      const first = poll(base, EIO, sid);
      await elapse(SETTLE_MS, "let the server register the first GET");
      const second = await poll(base, EIO, sid, { params: { t: "burst" } });
      const firstRes = await first;
      assert.equal(firstRes.status, 200);
      assert.equal(firstRes.body, "1");
      assert.equal(second.status, 400);
      assert.equal((await poll(base, EIO, sid)).status, 400);
    });

    it("polling: aborting the pending GET closes the session", async () => {
      const sid = await newSid();
      const controller = new AbortController();
      const pending = fetch(eioUrl(base, EIO, { sid }), { signal: controller.signal }).catch(() => null);
      await elapse(SETTLE_MS, "let the server register the GET");
      controller.abort();
      await pending;
      assert.equal((await poll(base, EIO, sid)).status, 400);
    });
  });

  describe("heartbeat", () => {
    it(`polling: the server pings ("2") every ${PING_INTERVAL} ms and accepts pongs, 3 times`, async () => {
      const sid = await newSid();
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const polled = await poll(base, EIO, sid, { ms: 3000 });
        const waited = Date.now() - t0;
        assert.equal(polled.status, 200);
        assert.equal(polled.body, "2");
        assert.ok(waited >= PING_INTERVAL - 100, `ping #${i + 1} after only ${waited} ms`);
        assert.ok(waited <= PING_INTERVAL + 700, `ping #${i + 1} after ${waited} ms`);
        assert.equal((await post(base, EIO, sid, "3")).status, 200);
      }
    });

    it("polling: without a pong the session is gone shortly after pingInterval + pingTimeout", async () => {
      const sid = await newSid();
      await elapse(PING_INTERVAL + PING_TIMEOUT + 30, "the server's own ping timeout (the official suite waits +10 ms)");
      assert.equal((await poll(base, EIO, sid)).status, 400);
    });

    it('websocket: the server pings ("2") and accepts pongs, 3 times', async () => {
      const { raw } = await wsHandshake(base, EIO);
      for (let i = 0; i < 3; i++) {
        assert.equal(await raw.next(PING_INTERVAL + 1000), "2");
        raw.send("3");
      }
    });

    it("websocket: without a pong the connection is closed after pingInterval + pingTimeout", async () => {
      const t0 = Date.now();
      const { raw } = await wsHandshake(base, EIO);
      await raw.waitClose(PING_INTERVAL + PING_TIMEOUT + 1500);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 100, `closed after only ${elapsed} ms`);
    });
  });

  describe("close", () => {
    it('polling: a client "1" releases the pending GET with "6" and removes the session', async () => {
      const sid = await newSid();
      const pending = poll(base, EIO, sid);
      await elapse(SETTLE_MS, "let the server register the GET");
      assert.equal((await post(base, EIO, sid, "1")).status, 200);
      const released = await pending;
      assert.equal(released.status, 200);
      assert.equal(released.body, "6");
      assert.equal((await poll(base, EIO, sid)).status, 400);
    });

    it('websocket: a client "1" closes the connection', async () => {
      const { raw } = await wsHandshake(base, EIO);
      raw.send("1");
      await raw.waitClose();
    });
  });

  describe("upgrade", () => {
    it('2probe → 3probe, polling GET released with "6", then 5: data flows over the websocket and polling gets 400', async () => {
      const sid = await newSid();
      const raw = await RawWs.open(wsUrl(base, EIO, { sid }));
      raw.send("2probe");
      assert.equal(await raw.next(), "3probe");
      const noop = await poll(base, EIO, sid);
      assert.equal(noop.status, 200);
      assert.equal(noop.body, "6");
      raw.send("5");
      raw.send("4hello");
      assert.equal(await raw.next(), "4hello");
      assert.equal((await poll(base, EIO, sid)).status, 400);
    });

    it("a second websocket for an upgraded sid is closed; the first keeps working", async () => {
      const sid = await newSid();
      const raw = await RawWs.open(wsUrl(base, EIO, { sid }));
      raw.send("2probe");
      assert.equal(await raw.next(), "3probe");
      raw.send("5");
      raw.send("4sync"); // echoed once the upgrade is complete
      assert.equal(await raw.next(), "4sync");
      const second = new RawWs(wsUrl(base, EIO, { sid }));
      await second.waitClose();
      raw.send("4hello");
      assert.equal(await raw.next(), "4hello");
    });
  });
});

describe("Socket.IO v5 (/socket.io/)", () => {
  /** Engine.IO websocket session on /socket.io/, pings answered automatically. */
  async function session(opts = { autoPong: true }) {
    return (await wsHandshake(base, SIO, opts)).raw;
  }

  /** `40` (+ auth) → CONNECT reply and the "auth" event. Returns the raw session. */
  async function connected(nsp = "/", auth) {
    const raw = await session();
    const prefix = nsp === "/" ? "40" : `40${nsp},`;
    raw.send(auth === undefined ? prefix : prefix + JSON.stringify(auth));
    const reply = await raw.next();
    assert.ok(reply.startsWith(prefix), reply);
    const payload = JSON.parse(reply.slice(prefix.length));
    assert.deepEqual(Object.keys(payload), ["sid"]);
    assert.equal(typeof payload.sid, "string");
    const evPrefix = nsp === "/" ? "42" : `42${nsp},`;
    assert.equal(await raw.next(), `${evPrefix}${JSON.stringify(["auth", auth ?? {}])}`);
    return raw;
  }

  describe("connect", () => {
    it('"40" → 40{"sid"} then 42["auth",{}]', async () => {
      await connected("/");
    });

    it('"40{"token":"123"}" → the auth object is echoed in the "auth" event', async () => {
      await connected("/", { token: "123" });
    });

    it('"40/custom," → 40/custom,{"sid"} then 42/custom,["auth",{}]; with a payload too', async () => {
      await connected("/custom");
      await connected("/custom", { token: "abc" });
    });

    it('an unknown namespace → 44/random,{"message":"Invalid namespace"} and the session stays open', async () => {
      for (const packet of ["40/random,", "40/random"]) {
        const raw = await session();
        raw.send(packet);
        assert.equal(await raw.next(), '44/random,{"message":"Invalid namespace"}');
        raw.send("40");
        assert.ok((await raw.next()).startsWith("40{"), "the main namespace still connects");
      }
    });

    it('an invalid first packet ("4abc") closes the session', async () => {
      const raw = await session();
      raw.send("4abc");
      await raw.waitClose();
    });

    it(`no CONNECT within connectTimeout (${CONNECT_TIMEOUT} ms) closes the session, even when answering pings`, async () => {
      const t0 = Date.now();
      const raw = await session({ autoPong: true });
      await raw.waitClose(CONNECT_TIMEOUT + 2000);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= CONNECT_TIMEOUT - 100, `closed after only ${elapsed} ms`);
    });
  });

  describe("disconnect", () => {
    it('"41" leaves the main namespace; the session stays open (the next frame is a ping)', async () => {
      const raw = await connected("/");
      raw.autoPong = false;
      raw.send("41");
      assert.equal(await raw.next(PING_INTERVAL + 1000), "2");
    });

    it("connect then disconnect /custom; the main namespace keeps working", async () => {
      const raw = await connected("/");
      raw.send("40/custom,");
      assert.ok((await raw.next()).startsWith("40/custom,"));
      assert.equal(await raw.next(), '42/custom,["auth",{}]');
      raw.send("41/custom,");
      raw.send('42["message","message to main namespace"]');
      assert.equal(await raw.next(), '42["message-back","message to main namespace"]');
    });
  });

  describe("messages", () => {
    it('42["message",...] → 42["message-back",...]', async () => {
      const raw = await connected();
      raw.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await raw.next(), '42["message-back",1,"2",{"3":[true]}]');
    });

    it("42456[\"message-with-ack\",...] → 43456[...]", async () => {
      const raw = await connected();
      raw.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await raw.next(), '43456[1,"2",{"3":[false]}]');
    });

    it("a binary event (452-) is re-emitted as 452-[\"message-back\",ph0,ph1] + the 2 binaries", async () => {
      const raw = await connected();
      raw.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      raw.send(Uint8Array.from([1, 2, 3]));
      raw.send(Uint8Array.from([4, 5, 6]));
      assert.equal(
        await raw.next(),
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
      );
      assert.deepEqual(await raw.next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await raw.next(), Buffer.from([4, 5, 6]));
    });

    it("a binary event with an ack (452-789) is acknowledged as 462-789[ph0,ph1] + the 2 binaries", async () => {
      const raw = await connected();
      raw.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      raw.send(Uint8Array.from([1, 2, 3]));
      raw.send(Uint8Array.from([4, 5, 6]));
      assert.equal(await raw.next(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await raw.next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await raw.next(), Buffer.from([4, 5, 6]));
    });

    for (const [what, packet] of [
      ["unknown packet type", "4abc"],
      ["non-array event payload", "42{}"],
      ["invalid ack id", '42abc["message-with-ack",1,"2",{"3":[false]}]'],
    ]) {
      it(`an invalid packet (${what}: ${packet}) closes the session`, async () => {
        const raw = await connected();
        raw.send(packet);
        await raw.waitClose();
      });
    }
  });
});
