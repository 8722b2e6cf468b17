// What a connection may hold in memory (docs/deployment.md, "Limits"), tried
// as an attacker would, on raw TCP where a client library would hide it:
// pings from a client that never reads, binary attachments announced before
// any CONNECT, many such connections together, a session that ends while
// its client stops reading; and room names that identities cannot forge.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { after, afterEach, before, describe, it } from "node:test";

import { connectUser, presenceConfig, startRollcalld, tokenFor, waitPresence } from "./lib/rollcalld.mjs";
import { closeAll, pollUntil, withDeadline } from "./lib/server.mjs";
import { serverSocket } from "./lib/tcp.mjs";

const DEADLINE_MS = 20000;

/** A masked client frame (RFC 6455 5.3): opcode 0x1 text, 0x2 binary, 0x9 ping. */
function clientFrame(opcode, payload) {
  const body = Buffer.from(payload);
  const len = body.length;
  let head;
  if (len < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  for (let i = 0; i < len; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

/**
 * A WebSocket client on a bare TCP socket: the upgrade, then frames written
 * by hand. Reads until the open packet (and, with `connect`, the CONNECT
 * reply), then, unless `read`, stops reading for good (`sock.pause()`), as
 * a client that does not read. Resolves { sock, closed (a promise),
 * isClosed(), write(buf) }.
 */
async function stalledClient(port, { connect = null, read = false } = {}) {
  const sock = net.createConnection({ host: "127.0.0.1", port, noDelay: true });
  const closed = new Promise((resolve) => sock.once("close", resolve));
  sock.on("error", () => {}); // a reset shows up as "close"
  await withDeadline(new Promise((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  }), DEADLINE_MS, "TCP connect");
  sock.write(
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  );
  if (connect !== null) sock.write(clientFrame(0x1, `40${JSON.stringify(connect)}`));
  // Read the 101 and the open packet (and the CONNECT reply): the server's
  // first frames are small text frames.
  const want = connect === null ? /"sid"/ : /40\{"sid"/;
  let seen = "";
  await withDeadline(new Promise((resolve, reject) => {
    const onData = (d) => {
      seen += d.toString("latin1");
      if (seen.includes("\r\n\r\n") && want.test(seen.slice(seen.indexOf("\r\n\r\n")))) {
        sock.off("data", onData);
        resolve();
      }
    };
    sock.on("data", onData);
    sock.once("close", () => reject(new Error(`closed during the handshake; got ${JSON.stringify(seen)}`)));
  }), DEADLINE_MS, "the WebSocket handshake");
  assert.match(seen, /^HTTP\/1\.1 101/);
  if (read) sock.on("data", () => {}); // reads and drops, so that it sees the close
  else sock.pause(); // never reads again
  let isClosed = false;
  closed.then(() => (isClosed = true));
  return {
    sock,
    closed,
    isClosed: () => isClosed,
    /** Writes, waiting for the kernel to take it; false once the server closed. */
    write: (buf) =>
      new Promise((resolve) => {
        if (isClosed || sock.destroyed) return resolve(false);
        if (sock.write(buf)) return resolve(true);
        const done = (ok) => {
          sock.off("drain", onDrain);
          sock.off("close", onClose);
          resolve(ok);
        };
        const onDrain = () => done(true);
        const onClose = () => done(false);
        sock.once("drain", onDrain);
        sock.once("close", onClose);
      }),
  };
}

/** Writes batches of 125-byte pings until the server closes or `maxBytes` were sent. */
async function pingFlood(client, maxBytes) {
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => clientFrame(0x9, Buffer.alloc(125, 0x61))));
  let sent = 0;
  while (sent < maxBytes && (await client.write(batch))) sent += batch.length;
  return sent;
}

const rssBytes = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
const openFds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

describe("connection budgets", () => {
  let rc;
  before(async () => {
    rc = await startRollcalld({
      config: presenceConfig({
        overrides: {
          server: {
            threads: 1,
            max_write_queue_bytes: 1 << 20,
            max_unauthenticated_total: 300 * 1024,
            ping_interval_ms: 400,
            ping_timeout_ms: 400,
          },
          log: { level: process.env.DEBUG_LOG ? "debug" : "info" },
        },
      }),
    });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
  });
  /** Waits for a line of the server's log (it may arrive after the close it explains). */
  const logged = (re) =>
    pollUntil(() => rc.output().stderr, (text) => re.test(text), { ms: DEADLINE_MS, what: `a log line matching ${re}` });

  it("pings from a client that never reads, before CONNECT: closed at max_unauthenticated_bytes, memory stays bounded", async () => {
    const pid = rc.proc.pid;
    const rss0 = rssBytes(pid);
    const client = await stalledClient(rc.port);
    const sent = await pingFlood(client, 256 << 20);
    await withDeadline(client.closed, DEADLINE_MS, "the server to close the connection");
    assert.ok(sent < 256 << 20, `the server read ${sent} bytes of pings without closing`);
    await logged(/closing: an unauthenticated connection holds \d+ bytes, above max_unauthenticated_bytes \(65536\)/);
    const grown = rssBytes(pid) - rss0;
    assert.ok(grown < 32 << 20, `RSS grew by ${grown} bytes`);
  });

  it("pings from a client that stopped reading after CONNECT: closed at max_write_queue_bytes", async () => {
    const client = await stalledClient(rc.port, { connect: { token: tokenFor("budget-reader") } });
    const sent = await pingFlood(client, 512 << 20);
    await withDeadline(client.closed, DEADLINE_MS, "the server to close the connection");
    assert.ok(sent < 512 << 20, `the server read ${sent} bytes of pings without closing`);
    await logged(/closing: \d+ bytes queued for a client that does not read, above max_write_queue_bytes \(1048576\)/);
  });

  it("binary attachments announced before CONNECT: closed once they pass max_unauthenticated_bytes", async () => {
    const client = await stalledClient(rc.port, { read: true });
    const placeholders = Array.from({ length: 10 }, (_, num) => ({ _placeholder: true, num }));
    assert.ok(await client.write(clientFrame(0x1, `4510-${JSON.stringify(["x", ...placeholders])}`)));
    const attachment = clientFrame(0x2, Buffer.alloc(30000, 0x62));
    for (let i = 0; i < 9 && (await client.write(attachment)); i++);
    await withDeadline(client.closed, DEADLINE_MS, "the server to close the connection");
    await logged(/closing: an unauthenticated connection holds \d+ bytes/);
  });

  it("unauthenticated connections together: closed past max_unauthenticated_total; logged-in clients are unaffected", async () => {
    // Each holds ~50 KB (under its own 64 KiB): 8 of them pass the 300 KiB pool.
    const clients = [];
    for (let i = 0; i < 8; i++) {
      const c = await stalledClient(rc.port, { read: true }).catch((e) => { console.log(rc.output().stderr); throw e; });
      assert.ok(await c.write(clientFrame(0x1, `452-${JSON.stringify(["x", { _placeholder: true, num: 0 }, { _placeholder: true, num: 1 }])}`)));
      await c.write(clientFrame(0x2, Buffer.alloc(50000, 0x63)));
      clients.push(c);
    }
    await pollUntil(() => clients.filter((c) => c.isClosed()).length, (n) => n >= 2, {
      ms: DEADLINE_MS,
      what: "connections past the pool to be closed",
    });
    await logged(/closing: unauthenticated connections hold \d+ bytes together, above max_unauthenticated_total \(307200\)/);
    const open = clients.filter((c) => !c.isClosed()).length;
    assert.ok(open >= 4, `only ${open} of 8 kept: the first ones fit in the pool`);
    // A client that logs in meanwhile is not counted against the pool.
    const user = await connectUser(rc.url, tokenFor("budget-pool-user"));
    assert.equal(user.connected, true);
    for (const c of clients) c.sock.destroy();
  });

  it("a session that ends while its client does not read gives its descriptor back (reset after the close deadline)", async () => {
    const pid = rc.proc.pid;
    const fds0 = openFds(pid);
    const budgetCloses = () => (rc.output().stderr.match(/above max_write_queue_bytes/g) ?? []).length;
    const closes0 = budgetCloses();
    const client = await stalledClient(rc.port, { connect: { token: tokenFor("budget-silent") } });
    const clientPort = client.sock.localPort;
    const batch = Buffer.concat(Array.from({ length: 500 }, () => clientFrame(0x9, Buffer.alloc(125, 0x61))));
    // Pings until the kernel's buffers towards the client are full (the
    // server's send queue stops growing once it has read a batch), then two
    // batches more: their pongs wait in the server's own queue (well under
    // the 1 MiB budget), so the close frame of the session waits behind
    // them, and the client never reads them.
    let lastTx = -1;
    let stable = 0;
    for (let i = 0; i < 400 && stable < 3; i++) {
      assert.ok(await client.write(batch), "the server closed the connection during the flood");
      const s = await pollUntil(() => serverSocket(rc.port, clientPort), (x) => x !== null && x.rxQueue === 0, {
        ms: DEADLINE_MS,
        what: "the server to read the pings",
      });
      stable = s.txQueue > 0 && s.txQueue === lastTx ? stable + 1 : 0;
      lastTx = s.txQueue;
    }
    assert.equal(stable, 3, "the server's send buffer never filled up");
    assert.ok(serverSocket(rc.port, clientPort).txQueue > 0);
    // The client stays silent: the ping timeout (400 + 400 ms) ends the
    // session, and 5 s later the connection is reset, descriptor and
    // kernel buffers included.
    await pollUntil(() => serverSocket(rc.port, clientPort), (x) => x === null, {
      ms: DEADLINE_MS,
      what: "the server's end of the connection to be gone (reset)",
    });
    await pollUntil(() => openFds(pid), (n) => n <= fds0, {
      ms: DEADLINE_MS,
      what: `the server's descriptors back to ${fds0}`,
    });
    assert.equal(budgetCloses(), closes0, "closed by the write budget, not by the session's end");
    client.sock.destroy();
  });
});

describe("identity rooms", () => {
  let rc;
  before(async () => {
    rc = await startRollcalld({ config: presenceConfig({ graceMs: 200 }) });
  });
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
  });

  it("an org id spelling another org's role room does not join it", async () => {
    const admin = await connectUser(rc.url, tokenFor("rooms-admin", { orgs: [{ id: "rooms-acme", role: "admin" }] }));
    // The attacker's org "rooms-acme:role:admin" (no role) used to put it in
    // org:rooms-acme:role:admin, so acme's admins got its presence events.
    await connectUser(rc.url, tokenFor("rooms-attacker", { orgs: [{ id: "rooms-acme:role:admin" }] }));
    await waitPresence(rc, "rooms-attacker"); // its presence event is out before the member's
    const member = await connectUser(rc.url, tokenFor("rooms-member", { orgs: [{ id: "rooms-acme", role: "member" }] }));
    assert.ok(member.connected);
    // Presence events reach a socket in commit order: once the member's has
    // arrived, the attacker's (committed before it) would have too.
    await admin.log.take("presence", DEADLINE_MS, ([p]) => p?.user === "rooms-member");
    const leaked = admin.log.events.filter((e) => e.event === "presence" && e.args[0]?.user === "rooms-attacker");
    assert.deepEqual(leaked, []);
  });
});
