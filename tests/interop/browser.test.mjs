// socket.io-client's browser bundle in a real browser: Debian's headless
// Chromium, driven by playwright-core (no browser download). The page is
// served by a small static server on another port than rollcall, so every
// polling request and the WebSocket are cross-origin (CORS, Origin header).
//
// The page script (PAGE_SCRIPT) keeps named sockets and an event log per
// socket; the tests call its functions (window.T.*) with page.evaluate. Every
// wait has a deadline inside the page, and each page.evaluate has one too.
// Binary values cross page.evaluate as {$u8: [...]} (a Uint8Array) and
// {$ab: [...]} (an ArrayBuffer).
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";

import { chromium } from "playwright-core";

import { ack, closeAll, connect, observe, patternBytes, startServer, withDeadline } from "./lib/server.mjs";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Deadline of one page.evaluate (the page's own waits are shorter). */
const EVAL_MS = 20000;
const TEST_MS = 30000;

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIENT_BUNDLE = path.join(here, "node_modules", "socket.io-client", "dist", "socket.io.min.js");

// Runs in the page. Kept free of test-process references: it is sent as text.
const PAGE_SCRIPT = String.raw`
"use strict";
(() => {
  const WAIT_MS = 5000;
  const sockets = new Map();

  function encode(v) {
    if (v instanceof ArrayBuffer) return { $ab: Array.from(new Uint8Array(v)) };
    if (v instanceof Uint8Array) return { $u8: Array.from(v) };
    if (ArrayBuffer.isView(v)) return { $view: v.constructor.name };
    if (typeof Blob !== "undefined" && v instanceof Blob) return { $blob: v.size };
    if (Array.isArray(v)) return v.map(encode);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
    return v;
  }

  function decode(v) {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === "object") {
      if (Array.isArray(v.$u8)) return new Uint8Array(v.$u8);
      if (Array.isArray(v.$ab)) return new Uint8Array(v.$ab).buffer;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
    }
    return v;
  }

  // Events in arrival order; lifecycle events are recorded as "@connect",
  // "@disconnect", "@connect_error", "@open", "@upgrade", "@reconnect_attempt", ...
  class Log {
    constructor() {
      this.events = [];
      this.waiters = [];
    }
    push(event, args) {
      const i = this.waiters.findIndex((w) => w.events.includes(event));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve({ event, args });
      else this.events.push({ event, args });
    }
    // The first unconsumed event named in events, waiting up to ms.
    takeAny(events, ms = WAIT_MS) {
      const i = this.events.findIndex((e) => events.includes(e.event));
      if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const waiter = {
          events,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          const seen = JSON.stringify(this.events.map((e) => e.event));
          reject(new Error("page: timed out after " + ms + " ms waiting for " + events.join("|") + "; unconsumed: " + seen));
        }, ms);
        this.waiters.push(waiter);
      });
    }
    async take(event, ms = WAIT_MS) {
      return (await this.takeAny([event], ms)).args;
    }
    count(event) {
      return this.events.filter((e) => e.event === event).length;
    }
  }

  function get(name) {
    const rec = sockets.get(name);
    if (!rec) throw new Error('page: no socket "' + name + '"');
    return rec;
  }

  const first = (args) => (args[0] instanceof Error ? args[0].message : typeof args[0] === "object" ? String(args[0]) : args[0]);

  function open(name, url, opts) {
    if (sockets.has(name)) throw new Error('page: socket "' + name + '" exists');
    const socket = io(url, { forceNew: true, reconnection: false, timeout: 10000, ...opts });
    const log = new Log();
    const rec = { socket, log, initialTransport: null, gate: null, origOpen: null };
    socket.onAny((event, ...args) => log.push(event, args));
    for (const ev of ["connect", "disconnect", "connect_error"]) {
      socket.on(ev, (...args) => log.push("@" + ev, [first(args)]));
    }
    const mgr = socket.io;
    for (const ev of ["reconnect_attempt", "reconnect", "reconnect_error"]) {
      mgr.on(ev, (...args) => log.push("@" + ev, [first(args)]));
    }
    // every engine session (the first one and each reconnection)
    mgr.on("open", () => {
      const engine = mgr.engine;
      if (rec.initialTransport === null) rec.initialTransport = engine.transport.name;
      log.push("@open", [engine.transport.name]);
      engine.on("upgrade", (transport) => log.push("@upgrade", [transport.name]));
    });
    sockets.set(name, rec);
    return rec;
  }

  function state(name) {
    const { socket, initialTransport } = get(name);
    return {
      id: socket.id ?? null,
      connected: socket.connected,
      recovered: socket.recovered,
      transport: socket.io.engine?.transport?.name ?? null,
      initialTransport,
    };
  }

  window.T = {
    state,
    origin: () => location.origin,
    async connect(name, url, opts = {}, ms = 10000) {
      const { log } = open(name, url, opts);
      const { event, args } = await log.takeAny(["@connect", "@connect_error"], ms);
      if (event === "@connect_error") throw new Error("page: connect_error: " + args[0]);
      return state(name);
    },
    async take(name, event, ms = WAIT_MS) {
      return encode(await get(name).log.take(event, ms));
    },
    async takeN(name, event, n, ms = WAIT_MS) {
      const end = Date.now() + ms;
      const out = [];
      for (let i = 0; i < n; i++) {
        try {
          out.push(encode(await get(name).log.take(event, Math.max(1, end - Date.now()))));
        } catch (err) {
          throw new Error("page: got " + i + " of " + n + ' "' + event + '": ' + err.message);
        }
      }
      return out;
    },
    count: (name, event) => get(name).log.count(event),
    emit(name, event, ...args) {
      get(name).socket.emit(event, ...decode(args));
    },
    // all the arguments of the acknowledgement
    ack(name, event, ...args) {
      const { socket } = get(name);
      return new Promise((resolve, reject) => {
        socket.timeout(WAIT_MS).emit(event, ...decode(args), (err, ...response) => {
          if (err) reject(new Error('page: no ack for "' + event + '" within ' + WAIT_MS + " ms: " + err.message));
          else resolve(encode(response));
        });
      });
    },
    // Holds the Manager's next (re)connection attempts until releaseReconnect().
    holdReconnect(name) {
      const rec = get(name);
      const mgr = rec.socket.io;
      if (!rec.origOpen) {
        rec.origOpen = mgr.open;
        mgr.open = function (...a) {
          if (!rec.gate) return rec.origOpen.apply(this, a);
          rec.gate.held++;
          rec.gate.promise.then(() => rec.origOpen.apply(this, a));
          return this;
        };
      }
      let release;
      const promise = new Promise((r) => {
        release = r;
      });
      rec.gate = { promise, release, held: 0 };
    },
    // Returns the number of attempts that were held.
    releaseReconnect(name) {
      const rec = get(name);
      const gate = rec.gate;
      rec.gate = null;
      gate.release();
      return gate.held;
    },
    // Closes the engine session from the client side (no DISCONNECT packet).
    async killTransport(name, ms = WAIT_MS) {
      const { socket, log } = get(name);
      const id = socket.id;
      socket.io.engine.close();
      const [reason] = await log.take("@disconnect", ms);
      return { id, reason };
    },
  };
})();
`;

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>rollcall browser interop</title>
<link rel="icon" href="data:,">
<script src="/socket.io.min.js"></script>
<script>${PAGE_SCRIPT}</script>
</head><body>rollcall browser interop</body></html>
`;

/** Serves the page and the socket.io-client browser bundle on 127.0.0.1:0. */
async function startStatic() {
  const bundle = fs.readFileSync(CLIENT_BUNDLE);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (req.method === "GET" && url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(PAGE_HTML);
    } else if (req.method === "GET" && url.pathname === "/socket.io.min.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
      res.end(bundle);
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await withDeadline(
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    }),
    5000,
    "the static server to listen",
  );
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await withDeadline(new Promise((r) => server.close(r)), 5000, "the static server to close");
    },
  };
}

/** Binary as page.evaluate carries it (see the header). */
const u8 = (buf) => ({ $u8: Array.from(buf) });
const ab = (buf) => ({ $ab: Array.from(buf) });

let browser;
let site;

before(async () => {
  site = await startStatic();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await site?.close();
});

/**
 * One fresh browser context + page per test, loaded from the static server.
 * call(fn, ...args) runs window.T[fn](...args) in the page with a deadline.
 */
function usePage() {
  const ctx = { page: null, context: null, errors: [], console: [], polling: [] };
  ctx.call = (fn, ...args) =>
    withDeadline(
      ctx.page.evaluate(([f, a]) => window.T[f](...a), [fn, args]),
      EVAL_MS,
      `page T.${fn}(${JSON.stringify(args).slice(0, 120)})`,
    );

  beforeEach(async () => {
    ctx.errors = [];
    ctx.console = [];
    ctx.polling = [];
    ctx.context = await browser.newContext();
    ctx.page = await ctx.context.newPage();
    ctx.page.on("pageerror", (err) => ctx.errors.push(err.message));
    ctx.page.on("console", (msg) => {
      if (msg.type() === "error" || msg.type() === "warning") ctx.console.push(`${msg.type()}: ${msg.text()}`);
    });
    ctx.page.on("request", (req) => {
      // allHeaders(): headers() leaves out the ones the network stack adds, Origin among them
      if (req.url().includes("transport=polling")) {
        ctx.polling.push(
          req.allHeaders().then(
            (h) => ({ method: req.method(), origin: h.origin }),
            (err) => ({ method: req.method(), error: err.message }),
          ),
        );
      }
    });
    await ctx.page.goto(`${site.url}/`, { timeout: 10000 });
    assert.equal(await ctx.call("origin"), site.url);
  });

  afterEach(async (t) => {
    await closeAll();
    for (const line of ctx.console) t.diagnostic(`browser console ${line}`);
    await ctx.context?.close();
    assert.deepEqual(ctx.errors, [], "uncaught errors in the page");
  });
  return ctx;
}

describe("socket.io-client in headless Chromium (cross-origin page)", () => {
  let server;
  const ctx = usePage();

  before(async () => {
    // recovery off: server emits carry no trailing offset argument
    server = await startServer({ args: ["--recovery-ms", "0"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("default transports: polling, upgrade to websocket, welcome, echo with binary, rooms", { timeout: TEST_MS }, async () => {
    assert.notEqual(site.url, server.url, "the page must be cross-origin");
    const st = await ctx.call("connect", "a", server.url, {});
    assert.equal(st.connected, true);
    assert.equal(st.initialTransport, "polling");
    assert.deepEqual(await ctx.call("take", "a", "welcome"), [{ id: st.id, recovered: false, auth: {}, nsp: "/" }]);

    assert.deepEqual(await ctx.call("take", "a", "@upgrade"), ["websocket"]);
    assert.equal((await ctx.call("state", "a")).transport, "websocket");

    // the polling requests were cross-origin ones
    const polling = await withDeadline(Promise.all(ctx.polling), 5000, "the headers of the polling requests");
    assert.ok(polling.length >= 2, `polling requests seen: ${JSON.stringify(polling)}`);
    for (const r of polling) assert.equal(r.origin, site.url, `Origin of a polling ${r.method}`);

    const bytes = patternBytes(300, 7);
    const more = Buffer.from([0, 1, 2, 127, 128, 254, 255]);
    const obj = { n: 1, nested: { ok: [true, null, 2.5] } };
    const back = await ctx.call("ack", "a", "echo", "hello ünïcødé 😀", obj, u8(bytes), ab(more), { label: "nested", data: u8(more) });
    // binary comes back as ArrayBuffer (the browser client's binaryType), bytes unchanged
    assert.deepEqual(back, [
      "hello ünïcødé 😀",
      obj,
      ab(bytes),
      ab(more),
      { label: "nested", data: ab(more) },
    ]);
    assert.equal((await ctx.call("state", "a")).transport, "websocket");

    assert.deepEqual(await ctx.call("ack", "a", "join", "room-a"), [[st.id, "room-a"].sort()]);
    const other = await connect(server.url);
    await ack(other, "to-rooms", ["room-a"], "to-room-a", "from node", { k: [1, 2] }, Buffer.from([9, 8, 7]));
    assert.deepEqual(await ctx.call("take", "a", "to-room-a"), ["from node", { k: [1, 2] }, ab([9, 8, 7])]);
    // the node socket is not in the room
    assert.equal(other.log.count("to-room-a"), 0);
  });

  for (const transport of ["polling", "websocket"]) {
    it(`transports ["${transport}"] only: welcome, echo with binary (ack and event), server emit`, { timeout: TEST_MS }, async () => {
      const st = await ctx.call("connect", "b", server.url, { transports: [transport] });
      assert.equal(st.initialTransport, transport);
      assert.equal(st.transport, transport);
      assert.deepEqual(await ctx.call("take", "b", "welcome"), [{ id: st.id, recovered: false, auth: {}, nsp: "/" }]);

      const bytes = patternBytes(1000, 3);
      assert.deepEqual(await ctx.call("ack", "b", "echo", "x", { y: [1, "z"] }, u8(bytes)), ["x", { y: [1, "z"] }, ab(bytes)]);
      // without an ack the server emits "echo" back
      await ctx.call("emit", "b", "echo", "event", u8([1, 2, 3]), { deep: { bin: ab([4, 5]) } });
      assert.deepEqual(await ctx.call("take", "b", "echo"), ["event", ab([1, 2, 3]), { deep: { bin: ab([4, 5]) } }]);

      // an event emitted by the server on behalf of another client
      await ctx.call("ack", "b", "join", "room-b");
      const other = await connect(server.url, { transports: ["websocket"] });
      await ack(other, "to-rooms", ["room-b"], "to-room-b", 42, Buffer.from("bin"));
      assert.deepEqual(await ctx.call("take", "b", "to-room-b"), [42, ab(Buffer.from("bin"))]);

      const end = await ctx.call("state", "b");
      assert.equal(end.transport, transport, "the transport changed");
      assert.equal(await ctx.call("count", "b", "@upgrade"), 0, "an upgrade happened");
      if (transport === "websocket") assert.equal(ctx.polling.length, 0, "polling requests with websocket only");
    });
  }
});

describe("connection state recovery in headless Chromium (--recovery-ms 5000)", () => {
  let server;
  const ctx = usePage();

  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "5000"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("after the transport is killed, the page reconnects with the same id and gets the missed events in order", { timeout: TEST_MS }, async () => {
    const observer = await observe(server.url);
    const st = await ctx.call("connect", "d", server.url, {
      reconnection: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 50,
      randomizationFactor: 0,
    });
    const [w] = await ctx.call("take", "d", "welcome");
    assert.equal(w.recovered, false);
    assert.equal(st.recovered, false);
    assert.deepEqual(await ctx.call("take", "d", "@upgrade"), ["websocket"]);
    const id = st.id;
    assert.deepEqual(await ctx.call("ack", "d", "join", "r"), [[id, "r"].sort()]);

    const node = await connect(server.url, { transports: ["websocket"] });
    await ack(node, "to-rooms", ["r"], "before", 0);
    const before0 = await ctx.call("take", "d", "before");
    assert.equal(before0[0], 0);
    assert.equal(typeof before0[1], "string", "events carry their offset with recovery on");

    // Kill the transport; the automatic reconnection is held in the page
    // until the missed events have been issued.
    await ctx.call("holdReconnect", "d");
    const killed = await ctx.call("killTransport", "d");
    assert.equal(killed.id, id);
    assert.equal(killed.reason, "forced close");
    await ctx.call("take", "d", "@reconnect_attempt");
    const seen = await observer.reasonFor(id);
    assert.equal(seen.reason, "transport close");

    await ack(node, "to-rooms", ["r"], "missed", 1);
    await ack(node, "to-rooms", ["r"], "missed", 2);

    assert.ok((await ctx.call("releaseReconnect", "d")) >= 1, "no reconnection attempt was held");
    await ctx.call("take", "d", "@connect", 10000);
    const re = await ctx.call("state", "d");
    assert.equal(re.connected, true);
    assert.equal(re.recovered, true);
    assert.equal(re.id, id);

    const missed = await ctx.call("takeN", "d", "missed", 2);
    assert.deepEqual(
      missed.map((args) => args[0]),
      [1, 2],
    );
    for (const args of missed) assert.equal(typeof args[1], "string", "missed events carry their offset");
    const [w2] = await ctx.call("take", "d", "welcome");
    assert.equal(w2.id, id);
    assert.equal(w2.recovered, true);

    // still in room "r", nothing replayed twice
    await ack(node, "to-rooms", ["r"], "after", 3);
    assert.equal((await ctx.call("take", "d", "after"))[0], 3);
    assert.equal(await ctx.call("count", "d", "before"), 0, "an event received before the disconnect was replayed");
    assert.equal(await ctx.call("count", "d", "missed"), 0, "a missed event was delivered twice");
  });
});
