// SIGTERM drain: clients are told to reconnect (their transport is closed,
// no Socket.IO disconnect), the drain is bounded by server.drain_ms, a
// second SIGTERM exits at once, and in a 2-node cluster behind a TCP
// balancer users whose clients move to the other node produce no
// user.offline / user.online pair.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";

import { startBalancer } from "./lib/balancer.mjs";
import { clusterKeys, dropKeys, startNode } from "./lib/cluster.mjs";
import { clientTextFrame, upgradeRequest } from "./lib/raw.mjs";
import {
  api,
  API_KEY,
  apiRequest,
  closeSocket,
  presenceConfig,
  startRollcalld,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { closeAll, elapse, makeSocket, once, pollUntil, waitConnected, withDeadline } from "./lib/server.mjs";
import { checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const cleanups = [];
after(async () => {
  await closeAll();
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/**
 * A raw WebSocket client connected to "/" that stops reading: once the
 * server has more for it than the socket buffers hold, its last frames can
 * be neither written nor dropped, and the drain waits for them.
 */
async function stuckClient(server) {
  const sock = net.createConnection({ host: "127.0.0.1", port: server.port });
  sock.on("error", () => {});
  cleanups.push(async () => sock.destroy());
  let seen = "";
  const saw = (re) =>
    withDeadline(
      new Promise((resolve) => {
        const check = () => (re.test(seen) ? resolve() : sock.once("data", check));
        check();
      }),
      5000,
      `${re} from the server`,
    );
  sock.on("data", (d) => {
    seen += d.toString("latin1");
  });
  await withDeadline(new Promise((resolve) => sock.once("connect", resolve)), 5000, "connect");
  sock.write(upgradeRequest(server.url));
  await saw(/"sid"/);
  sock.write(clientTextFrame("40"));
  await saw(/40\{"sid"/);
  sock.pause();
  return sock;
}

/** Broadcasts `mb` messages of 1 MB to "/" through POST /v1/emit. */
async function flood(server, mb) {
  const data = ["x".repeat(1 << 20)];
  for (let i = 0; i < mb; i++) {
    const res = await apiRequest(server, "POST", "/v1/emit", { event: "big", data });
    assert.equal(res.status, 202, res.text);
  }
}

function exitOf(server) {
  return new Promise((resolve) => {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
      resolve({ code: server.proc.exitCode, signal: server.proc.signalCode });
    } else server.proc.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

describe("SIGTERM drain", () => {
  const stuckConfig = (drainMs) =>
    presenceConfig({
      overrides: {
        server: { threads: 2, drain_ms: drainMs, max_write_queue_bytes: 64 << 20 },
        auth: { allow_anonymous: true },
        api: { key: API_KEY, max_body: 2 << 20 },
      },
    });

  it("server.drain_ms bounds the drain: exit 0 after it even while a client cannot be flushed", async () => {
    const rc = await startRollcalld({ config: stuckConfig(1500) });
    cleanups.push(async () => rc.cleanup());
    await stuckClient(rc);
    await flood(rc, 24);
    const t0 = Date.now();
    const { code } = await rc.kill("SIGTERM");  // resolves once it exited
    const took = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(took >= 1400, `the drain waited for the stuck client (${took} ms)`);
    assert.ok(took < 4500, `and no longer than drain_ms allows (${took} ms; the close deadline is 5 s)`);
  });

  it("a second SIGTERM exits at once while the drain waits", async () => {
    const rc = await startRollcalld({ config: stuckConfig(60000) });
    cleanups.push(async () => rc.cleanup());
    await stuckClient(rc);
    await flood(rc, 24);
    const exited = exitOf(rc);
    const killing = rc.kill("SIGTERM");  // marks the exit as expected; resolves once it exited
    // Still draining a moment later (the stuck client holds it)...
    const early = await Promise.race([exited, elapse(700, "the drain under way").then(() => null)]);
    assert.equal(early, null, `rollcalld exited during the drain: ${JSON.stringify(early)}`);
    const t0 = Date.now();
    rc.proc.kill("SIGTERM");
    const { code } = await withDeadline(exited, 2000, "rollcalld to exit on the second SIGTERM");
    assert.equal(code, 1);
    assert.ok(Date.now() - t0 < 1000, "at once");
    await killing;
  });

  it("in a 2-node cluster, users whose clients move to the other node get no offline/online pair", async () => {
    const cl = await clusterKeys("drain");
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(async () => rx.close(), async () => dropKeys(cl));
    const GRACE_MS = 4000;
    const a = await startNode(cl, "a", { receiver: rx, graceMs: GRACE_MS });
    const b = await startNode(cl, "b", { receiver: rx, graceMs: GRACE_MS });
    cleanups.push(async () => b.stop(), async () => a.stop());
    const lb = await startBalancer([a.port, b.port]);
    cleanups.push(async () => lb.close());

    const USERS = 5;
    const clients = [];
    for (let u = 0; u < USERS; u++) {
      for (let tab = 0; tab < 2; tab++) {
        const s = makeSocket(lb.url, {
          transports: ["websocket"],
          auth: { token: tokenFor(`mover${u}`) },
          reconnection: true,
          reconnectionDelay: 100,
          reconnectionDelayMax: 300,
        });
        await waitConnected(s);
        clients.push(s);
      }
    }
    await rx.waitFor((r) => r.delivered().length === USERS, 8000, `${USERS} user.online`);
    // Every connection is on a (the balancer's first choice).
    for (let u = 0; u < USERS; u++) {
      const p = (await api(b, `/v1/presence/users/mover${u}`)).json;
      assert.deepEqual(p.details.map((d) => d.node), ["a", "a"]);
    }

    const reasons = clients.map((s) => once(s, "disconnect", 10000));
    const reconnected = clients.map((s) => once(s.io, "reconnect", 10000));
    await a.stop();  // SIGTERM; resolves once it exited with status 0
    for (const [reason] of await Promise.all(reasons)) assert.equal(reason, "transport close");
    await Promise.all(reconnected);
    // Both tabs are on b once b's connect scripts have run in Redis.
    for (let u = 0; u < USERS; u++) {
      await pollUntil(
        async () => (await api(b, `/v1/presence/users/mover${u}`)).json,
        (p) => JSON.stringify(p?.details?.map((d) => d.node)) === '["b","b"]',
        { ms: 5000, what: `mover${u}'s two connections on b` },
      );
    }
    // Past the grace period: nothing more than the first onlines.
    await elapse(GRACE_MS + 1500, "the grace period of the connections a closed");
    const events = rx.delivered();
    assert.deepEqual(
      events.map((e) => `${e.user}:${e.type}`).sort(),
      Array.from({ length: USERS }, (_, u) => `mover${u}:user.online`),
      "no user.offline / user.online pair for users who moved",
    );

    // And when they do leave, each goes offline once.
    for (const s of clients) await closeSocket(s);
    await rx.waitFor((r) => r.delivered().length === 2 * USERS, GRACE_MS + 8000, `${USERS} user.offline`);
    checkDeliveries(rx);
  });
});
