// Organisation notifications at scale (docs/performance.md, "Notifications"):
//
//   node bench/notify.mjs --store sqlite|postgres [--members 10000] [--connected 2000]
//                         [--rounds 5] [--rate 1000] [--orgs 10] [--org-size 100] [--seconds 10]
//
// 1. Fan-out: one org of --members members (set over the HTTP API), of whom
//    --connected have a socket.io-client WebSocket open; --rounds times, a
//    POST /v1/notifications to the org. Reports the time to 201 (stored for
//    every member), the time until every connected member got the event, and
//    rollcalld's CPU per notification.
// 2. Sustained: --orgs orgs of --org-size members (20 % connected), a
//    notification to one of them (in turn) --rate times a second for
//    --seconds. Reports the rate reached, the 201 latency (p50/p99), the
//    deliveries and rollcalld's CPU.
//
// Starts build/bin/rollcalld (one loop; bash scripts/build.sh release) on a
// free loopback port with a temporary data directory; --store postgres uses
// a fresh database on the test PostgreSQL (127.0.0.1:$PG_PORT, default
// 15432: bash scripts/services.sh start), dropped at the end. The clients
// are the npm socket.io-client of tests/interop (scripts/deps.sh --test).
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const require = createRequire(path.join(ROOT, "tests/interop/package.json"));
const { io } = require("socket.io-client");
// The test suite's JWT signer and PostgreSQL helpers.
const { signHS256 } = await import(path.join(ROOT, "tests/interop/lib/jwt.mjs"));
const { freshDatabase } = await import(path.join(ROOT, "tests/interop/lib/pg.mjs"));

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const opt = {
  store: args.store ?? "sqlite",
  members: Number(args.members ?? 10000),
  connected: Number(args.connected ?? 2000),
  rounds: Number(args.rounds ?? 5),
  rate: Number(args.rate ?? 1000),
  orgs: Number(args.orgs ?? 10),
  orgSize: Number(args["org-size"] ?? 100),
  seconds: Number(args.seconds ?? 10),
};
const SECRET = "bench-notify-secret-0123456789abcdef";
const KEY = "bench-notify-api-key-0123456789";
const HZ = 100; // clock ticks per second (getconf CLK_TCK on Linux)

const token = (sub) => signHS256({ sub }, SECRET);
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const median = (xs) => pct(xs, 50);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rollcall-bench-notify-"));
  let db = null;
  if (opt.store === "postgres") {
    process.env.PG_PORT ??= "15432";
    db = await freshDatabase("bench_notify");
  }
  const storeUrl = db?.url ?? "";
  const config = [
    "[server]", "threads = 1", `data_dir = ${JSON.stringify(dir)}`, "max_write_queue_bytes = 67108864",
    "[auth]", `jwt_secret = ${JSON.stringify(SECRET)}`,
    "[api]", `key = ${JSON.stringify(KEY)}`,
    "[log]", 'level = "warn"',
    ...(storeUrl ? ["[store]", `url = ${JSON.stringify(storeUrl)}`] : []),
  ].join("\n");
  fs.writeFileSync(path.join(dir, "rollcall.toml"), config);
  const proc = spawn(path.join(ROOT, "build/bin/rollcalld"), ["--config", path.join(dir, "rollcall.toml"), "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once("exit", (code) => reject(new Error(`rollcalld exited (${code})`)));
    setTimeout(() => reject(new Error("rollcalld did not start")), 10000);
  });
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
  const call = async (method, p, body) => {
    const res = await fetch(base + p, { method, headers, body: body && JSON.stringify(body), signal: AbortSignal.timeout(60000) });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const sockets = [];
  try {
    const put = async (users, org) => {
      for (let i = 0; i < users.length; i += 64) {
        await Promise.all(users.slice(i, i + 64).map((u) => call("PUT", `/v1/orgs/${org}/members/${u}`, { role: "member" })));
      }
    };
    const connect = (user, onNotification) =>
      new Promise((resolve, reject) => {
        const s = io(base, { transports: ["websocket"], auth: { token: token(user) }, forceNew: true, reconnection: false });
        s.on("notification", onNotification);
        s.once("connect", () => resolve(s));
        s.once("connect_error", reject);
        sockets.push(s);
      });

    // 1. Fan-out to one big org.
    const members = Array.from({ length: opt.members }, (_, i) => `m${i}`);
    let t = Date.now();
    await put(members, "big");
    console.log(`${opt.store}: ${opt.members} members set in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    let received = 0;
    let waiter = null;
    const onBig = () => {
      ++received;
      if (waiter && received >= waiter.n) waiter.resolve();
    };
    for (let i = 0; i < opt.connected; i += 100) {
      await Promise.all(members.slice(i, Math.min(i + 100, opt.connected)).map((u) => connect(u, onBig)));
    }
    const stored = [];
    const delivered = [];
    const cpu = [];
    for (let r = 0; r < opt.rounds; ++r) {
      received = 0;
      const all = new Promise((resolve) => (waiter = { n: opt.connected, resolve }));
      const c0 = cpuTicks(proc.pid);
      const t0 = performance.now();
      await call("POST", "/v1/notifications", { audience: { orgs: ["big"] }, type: "bench", data: { round: r } });
      stored.push(performance.now() - t0);
      await all;
      delivered.push(performance.now() - t0);
      cpu.push(((cpuTicks(proc.pid) - c0) / HZ) * 1000);
      await sleep(200);
    }
    console.log(
      `fan-out to ${opt.members} members (${opt.connected} connected), median of ${opt.rounds}: ` +
        `stored (201) ${median(stored).toFixed(0)} ms, all connected got it ${median(delivered).toFixed(0)} ms, ` +
        `rollcalld CPU ${median(cpu).toFixed(0)} ms per notification`,
    );

    // 2. Sustained rate to small orgs.
    for (const s of sockets.splice(0)) s.disconnect();
    let deliveries = 0;
    for (let o = 0; o < opt.orgs; ++o) {
      const users = Array.from({ length: opt.orgSize }, (_, i) => `o${o}u${i}`);
      await put(users, `org${o}`);
      for (const u of users.slice(0, Math.ceil(opt.orgSize / 5))) await connect(u, () => ++deliveries);
    }
    const latencies = [];
    let sent = 0;
    let failed = 0;
    const c0 = cpuTicks(proc.pid);
    const t0 = performance.now();
    const end = t0 + opt.seconds * 1000;
    const inflight = new Set();
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - t0) / 1000) * opt.rate);
      while (sent < due) {
        const org = `org${sent % opt.orgs}`;
        const start = performance.now();
        const p = call("POST", "/v1/notifications", { audience: { orgs: [org] }, type: "rate", data: { n: sent } })
          .then(() => latencies.push(performance.now() - start))
          .catch(() => ++failed)
          .finally(() => inflight.delete(p));
        inflight.add(p);
        ++sent;
      }
      await sleep(2);
    }
    await Promise.all(inflight);
    const secs = (performance.now() - t0) / 1000;
    const cpuSecs = (cpuTicks(proc.pid) - c0) / HZ;
    const expected = sent * Math.ceil(opt.orgSize / 5);
    await sleep(500);
    console.log(
      `sustained: ${sent} notifications to orgs of ${opt.orgSize} in ${secs.toFixed(1)} s (${(sent / secs).toFixed(0)}/s, ${failed} failed), ` +
        `201 in p50 ${pct(latencies, 50).toFixed(1)} ms / p99 ${pct(latencies, 99).toFixed(1)} ms, ` +
        `${deliveries}/${expected} live deliveries, rollcalld CPU ${((cpuSecs / secs) * 100).toFixed(0)} % of a core ` +
        `(${((cpuSecs / sent) * 1e6).toFixed(0)} us per notification)`,
    );
  } finally {
    for (const s of sockets) s.disconnect();
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    fs.rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench/notify.mjs: ${e.message}`);
    process.exit(1);
  },
);
