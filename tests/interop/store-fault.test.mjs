// The presence store under a storage fault (docs/presence.md, "When the
// store fails"): rollcalld keeps its SQLite store on a small tmpfs, a
// filler file fills the file system, 20 transitions happen, then the filler
// is removed. Transitions must be kept in memory, retried, and announced
// only once stored: none while the disk is full, all 20 afterwards, in
// order, each once. /readyz names the presence store meanwhile; /healthz
// (liveness) stays 200.
//
// Mounting needs root (the test command runs as root); elsewhere the test
// fails with a message saying so rather than skipping.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, describe, it } from "node:test";

import {
  api,
  closeSocket,
  connectUser,
  presenceConfig,
  runRollcalld,
  startRollcalld,
  tempDir,
  toToml,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { closeAll, pollUntil } from "./lib/server.mjs";
import { checkAlternating, checkDeliveries, startReceiver } from "./lib/webhook-receiver.mjs";

const GRACE_MS = 200;
const USERS = 10; // 10 online + 10 offline = 20 transitions during the fault

/** A fresh tmpfs of `size` mounted under the temp dir; `ro` mounts it read-only. */
function mountTmpfs(size, { ro = false } = {}) {
  if (process.getuid?.() !== 0) {
    throw new Error("store-fault tests mount a tmpfs and need root (run the test command as root)");
  }
  const dir = tempDir("rollcall-fault-");
  const opts = [`size=${size}`, "mode=0755", ...(ro ? ["ro"] : [])].join(",");
  execFileSync("mount", ["-t", "tmpfs", "-o", opts, "tmpfs", dir]);
  return dir;
}

function unmount(dir) {
  try {
    execFileSync("umount", ["-l", dir]);
  } catch {
    // already gone
  }
}

/** Writes zeros to `file` until the file system is full (ENOSPC). */
function fill(file) {
  const fd = fs.openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let i = 0; i < 100000; i++) {
      try {
        fs.writeSync(fd, chunk);
      } catch (err) {
        if (err.code !== "ENOSPC") throw err;
        // The last chunk may fit in part: fill the remainder byte-wise.
        for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
          for (;;) {
            try {
              if (fs.writeSync(fd, chunk, 0, n) < n) break;
            } catch (e) {
              if (e.code !== "ENOSPC") throw e;
              break;
            }
          }
        }
        return;
      }
    }
    throw new Error(`fill: ${file} never reached ENOSPC`);
  } finally {
    fs.closeSync(fd);
  }
}

describe("presence store faults", () => {
  const cleanups = [];
  afterEach(async () => {
    await closeAll();
    while (cleanups.length) await cleanups.pop()();
  });
  after(closeAll);

  it("a full disk delays transitions (health degraded) and delivers all of them in order once space returns", async () => {
    const mnt = mountTmpfs("2m");
    cleanups.push(() => unmount(mnt));
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => rx.close());
    const rc = await startRollcalld({
      config: presenceConfig({ receiver: rx, graceMs: GRACE_MS, overrides: { log: { level: "info" } } }),
      dir: mnt,
    });
    cleanups.push(() => rc.stop());

    // The store works: a first transition is stored and delivered.
    const warm = await connectUser(rc.url, tokenFor("warm"));
    await rx.waitFor((r) => r.delivered().length >= 1, 5000, "warm's user.online");

    const filler = path.join(mnt, "filler");
    fill(filler);

    const users = Array.from({ length: USERS }, (_, i) => `full-${i}`);
    const isOnline = async (u) => (await api(rc, `/v1/presence/users/${u}`)).json.online;
    const sockets = await Promise.all(users.map((u) => connectUser(rc.url, tokenFor(u))));
    for (const u of users) {
      await pollUntil(() => isOnline(u), (v) => v === true, { what: `${u} online in the API` });
    }
    for (const s of sockets) await closeSocket(s);
    for (const u of users) {
      await pollUntil(() => isOnline(u), (v) => v === false, { ms: GRACE_MS + 5000, what: `${u} offline in the API` });
    }

    // All 20 decided, none stored: degraded, and nothing announced.
    const ready = await pollUntil(
      () => api(rc, "/readyz", { key: null }),
      (h) => h.status === 503 && h.json.failing?.[0]?.unstored === 2 * USERS,
      { ms: 10000, what: `/readyz unavailable with ${2 * USERS} unstored transitions` },
    );
    assert.equal(ready.json.status, "unavailable");
    const store = ready.json.failing[0];
    assert.equal(store.dependency, "presence store");
    assert.equal(store.lost, 0);
    assert.match(store.error, /full/);
    assert.match(store.failingSince, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await api(rc, "/healthz", { key: null })).status, 200, "liveness is not readiness");
    assert.deepEqual(
      rx.delivered().filter((e) => e.user !== "warm"),
      [],
      "no transition may be announced before it is stored",
    );
    assert.match(rc.output().stderr ?? String(rc.output()), /cannot store \d+ transitions: .*full/);

    fs.rmSync(filler);
    await rx.waitFor((r) => r.delivered().length >= 1 + 2 * USERS, 20000, "the 20 transitions after space came back");
    await pollUntil(
      () => api(rc, "/readyz", { key: null }),
      (h) => h.status === 200 && h.json.status === "ready",
      { ms: 5000, what: "/readyz ready again" },
    );

    // In order, each once: the warm event may have been sent again (its
    // "delivered" mark may have hit the full disk: at least once), the 20
    // made during the fault exactly once.
    const events = checkDeliveries(rx, { allowRedelivery: true });
    const accepted = rx.accepted();
    for (const e of events.filter((x) => x.user !== "warm")) {
      assert.equal(accepted.filter((x) => x.id === e.id).length, 1, `${e.user} ${e.type} delivered more than once`);
    }
    assert.equal(events.length, 1 + 2 * USERS, `distinct events: ${events.length}`);
    for (const u of users) {
      const mine = events.filter((e) => e.user === u);
      assert.equal(mine.length, 2, `${u}: ${JSON.stringify(mine.map((e) => [e.type, e.seq]))}`);
      checkAlternating(mine, { user: u });
    }
    assert.match(String(rc.output().stderr ?? rc.output()), /store recovered after/);
    await closeSocket(warm);
  });

  it("a read-only data directory at start is refused with a message naming the store", async () => {
    const ro = mountTmpfs("1m", { ro: true });
    cleanups.push(() => unmount(ro));
    const cfgDir = tempDir();
    const configFile = path.join(cfgDir, "rollcall.toml");
    fs.writeFileSync(
      configFile,
      toToml(presenceConfig({ overrides: { server: { data_dir: ro, listen: "127.0.0.1:0" } } })),
    );
    const res = await runRollcalld(["--config", configFile]);
    assert.notEqual(res.code, 0, `rollcalld started on a read-only data dir:\n${res.stderr}`);
    assert.ok(res.stderr.includes(path.join(ro, "")) || res.stderr.includes(ro), `no path in:\n${res.stderr}`);
    assert.match(res.stderr, /writable|read-only|readonly/i, res.stderr);
  });
});
