// Orchestrator behind bench/compare.sh: runs each scenario against each
// server, samples the server's CPU and RSS from /proc at the load
// generator's phase lines, and writes results.json, results.csv, table.txt
// and the gnuplot inputs. Node built-ins only. See bench/README.md.
//
//   node bench/scripts/run.mjs --root DIR --out DIR [--quick] [--scenarios a,b]
//        [--servers node,floor,rollcall] [--threads N] [--repeat R] [--floor-all] [--list]
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const opt = {
  root: process.cwd(),
  out: null,
  quick: false,
  scenarios: null,
  servers: ["node", "floor", "rollcall"],
  threads: 1,
  repeat: 1,
  floorAll: false,
  list: false,
  loadgen: null,
};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    return argv[++i];
  };
  if (a === "--root") opt.root = path.resolve(val());
  else if (a === "--out") opt.out = path.resolve(val());
  else if (a === "--quick") opt.quick = true;
  else if (a === "--scenarios") opt.scenarios = val().split(",").filter(Boolean);
  else if (a === "--servers") opt.servers = val().split(",").filter(Boolean);
  else if (a === "--threads") opt.threads = Number(val());
  else if (a === "--repeat") opt.repeat = Number(val());
  else if (a === "--floor-all") opt.floorAll = true;
  else if (a === "--list") opt.list = true;
  else if (a === "--loadgen") opt.loadgen = path.resolve(val());
  else throw new Error(`unknown option ${a}`);
}
if (!Number.isInteger(opt.threads) || opt.threads < 1 || opt.threads > 255)
  throw new Error("--threads must be 1..255");
if (!Number.isInteger(opt.repeat) || opt.repeat < 1 || opt.repeat > 9)
  throw new Error("--repeat must be 1..9");
opt.out ??= path.join(opt.root, "build", "bench");
const BIN = path.join(opt.root, "build", "bin");
const LOADGEN = opt.loadgen ?? path.join(BIN, "rollcall-loadgen");

// ---------------------------------------------------------------- scenarios
//
// kind: what is measured and how the work is counted.
//   broadcast: CPU in [measure-start, measure-end] / messages delivered
//   echo:      CPU in the window / round trips; p99 from the load generator
//   connect:   CPU from before the load generator starts to "phase connected" / connections
//   idle:      (RSS at measure-start - RSS before the load) / connections;
//              CPU in the window / (connections x window / 25 s) = CPU per heartbeat
//   churn:     CPU in the window / connection cycles (connect + CONNECT + disconnect)
// full and quick give the load generator's arguments; procs > 1 splits the
// clients over several load generator processes, one source address each.
const HEARTBEAT_S = 25;
const SCENARIOS = [
  {
    name: "bcast-1k-20",
    kind: "broadcast",
    about: "broadcast, paced: 1,000 clients, 20 emits/s in all (20,000 deliveries/s)",
    floor: true,
    full: { scenario: "broadcast", clients: 1000, rate: 20, warmup: 5, duration: 20 },
    quick: { scenario: "broadcast", clients: 200, rate: 20, warmup: 1, duration: 4 },
  },
  {
    name: "bcast-5k-4",
    kind: "broadcast",
    about: "broadcast, paced: 5,000 clients, 4 emits/s in all (20,000 deliveries/s)",
    floor: true,
    full: { scenario: "broadcast", clients: 5000, rate: 4, warmup: 5, duration: 20 },
    quick: { scenario: "broadcast", clients: 1000, rate: 4, warmup: 1, duration: 4 },
  },
  {
    name: "bcast-closed",
    kind: "broadcast",
    about: "broadcast, closed loop: 1,000 clients, 16 emits in flight (the next when one arrived back)",
    floor: true,
    full: { scenario: "broadcast", clients: 1000, rate: 0, "max-inflight": 16, warmup: 5, duration: 20 },
    quick: { scenario: "broadcast", clients: 200, rate: 0, "max-inflight": 16, warmup: 1, duration: 4 },
  },
  {
    name: "bcast-closed-1",
    kind: "broadcast",
    about: "broadcast, closed loop, 1 emit in flight: nothing to coalesce (one write per message)",
    floor: true,
    full: { scenario: "broadcast", clients: 1000, rate: 0, warmup: 5, duration: 20 },
    quick: { scenario: "broadcast", clients: 200, rate: 0, warmup: 1, duration: 4 },
  },
  {
    name: "connect",
    kind: "connect",
    about: "connect: CPU per WebSocket connection + Socket.IO CONNECT (5,000 at 1,000/s)",
    floor: false,
    full: { scenario: "idle", clients: 5000, "connect-rate": 1000, warmup: 0, duration: 1 },
    quick: { scenario: "idle", clients: 1000, "connect-rate": 1000, warmup: 0, duration: 1 },
  },
  {
    name: "echo",
    kind: "echo",
    about: "echo with ack, closed loop: 100 clients, one echo outstanding each",
    floor: false,
    full: { scenario: "echo", clients: 100, warmup: 5, duration: 20 },
    quick: { scenario: "echo", clients: 50, warmup: 1, duration: 4 },
  },
  {
    name: "polling-echo",
    kind: "echo",
    about: "echo with ack over HTTP long-polling: 100 clients, one echo outstanding each",
    floor: false,
    full: { scenario: "polling-echo", clients: 100, warmup: 5, duration: 20 },
    quick: { scenario: "polling-echo", clients: 50, warmup: 1, duration: 4 },
  },
  {
    name: "idle-10k",
    kind: "idle",
    about: "idle: 10,000 connections; RSS per connection, CPU per heartbeat over 50 s",
    floor: false,
    full: { scenario: "idle", clients: 10000, "connect-rate": 2000, warmup: 3, duration: 50 },
    quick: { scenario: "idle", clients: 2000, "connect-rate": 2000, warmup: 1, duration: 3 },
  },
  {
    name: "idle-19k",
    kind: "idle",
    about: "idle: 19,000 connections from 127.0.0.2-5 (4 load generators); RSS and heartbeat CPU",
    floor: false,
    procs: 4,
    full: { scenario: "idle", clients: 19000, "connect-rate": 2000, warmup: 3, duration: 50 },
    quick: { scenario: "idle", clients: 4000, "connect-rate": 2000, warmup: 1, duration: 3 },
  },
  {
    name: "churn",
    kind: "churn",
    about: "churn: 1,000 users x 3 connection slots, each reconnecting at once; CPU per cycle",
    floor: false,
    full: { scenario: "churn", clients: 3000, users: 1000, "conns-per-user": 3, warmup: 3, duration: 20 },
    quick: { scenario: "churn", clients: 600, users: 200, "conns-per-user": 3, warmup: 1, duration: 4 },
  },
];
const SERVER_NAMES = ["node", "floor", "rollcall"];

if (opt.list) {
  for (const s of SCENARIOS) {
    const p = opt.quick ? s.quick : s.full;
    console.log(`${s.name.padEnd(13)} ${s.about}`);
    console.log(`${"".padEnd(13)} loadgen: ${loadgenArgs(p, s.procs ?? 1, 0, 0).slice(4).join(" ")}` +
      `${(s.procs ?? 1) > 1 ? ` (x${s.procs})` : ""}; servers: node, ${s.floor ? "floor, " : ""}rollcall`);
  }
  process.exit(0);
}

for (const n of opt.scenarios ?? [])
  if (!SCENARIOS.some((s) => s.name === n))
    throw new Error(`unknown scenario ${n} (known: ${SCENARIOS.map((s) => s.name).join(", ")})`);
for (const n of opt.servers)
  if (!SERVER_NAMES.includes(n)) throw new Error(`unknown server ${n} (known: ${SERVER_NAMES.join(", ")})`);

// ---------------------------------------------------------------- /proc

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

function procSample(pid) {
  const now = process.hrtime.bigint();
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number((status.match(new RegExp(`^${k}:\\s+(\\d+)`, "m")) ?? [0, 0])[1]);
    // finer cross-check: on-CPU nanoseconds of the live threads
    let schedNs = 0;
    try {
      for (const t of fs.readdirSync(`/proc/${pid}/task`))
        schedNs += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      schedNs = NaN;
    }
    return {
      t_ns: now,
      cpu_s: ticks / CLK_TCK,
      sched_cpu_s: schedNs / 1e9,
      rss_kb: kb("VmRSS"),
      hwm_kb: kb("VmHWM"),
      threads: kb("Threads"),
    };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- processes

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();

function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

function killAll() {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"])
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    child.once("exit", () => {
      clearTimeout(t);
      res(true);
    });
  });
}

async function stopChild(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill("SIGTERM");
  } catch {}
  if (!(await waitExit(child, graceMs))) {
    try {
      child.kill("SIGKILL");
    } catch {}
    await waitExit(child, 2000);
  }
}

// Pinning (see bench/README.md): with one server thread the server gets CPU 0
// and the load generators CPU 1, so the two never compete for a core and
// every server has exactly one core. With --threads > 1 rollcalld gets every
// core and shares CPU 1 with the load generators.
// online CPUs of the machine (not of this process's affinity mask: compare.sh
// pins the orchestrator itself to CPU 1)
const NCPU = os.cpus().length || 1;
const HAVE_TASKSET = (() => {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const PIN = HAVE_TASKSET && NCPU >= 2;
const serverCpus = (name) => (name === "rollcall" && opt.threads > 1 ? `0-${NCPU - 1}` : "0");
const LOADGEN_CPUS = NCPU > 2 ? `1-${NCPU - 1}` : "1";
const pinned = (cpus, cmd, args) => (PIN ? ["taskset", ["-c", cpus, cmd, ...args]] : [cmd, args]);

let runSeq = 0;
function serverCommand(name, dataDir) {
  if (name === "node")
    return pinned(serverCpus(name), process.execPath, [path.join(opt.root, "bench", "node", "server.mjs"), "--port", "0"]);
  if (name === "floor")
    return pinned(serverCpus(name), path.join(BIN, "floor_server"), ["--listen", "127.0.0.1:0"]);
  return pinned(serverCpus(name), path.join(BIN, "rollcalld"), [
    "--bench",
    "--listen",
    "127.0.0.1:0",
    "--threads",
    String(opt.threads),
    "--data-dir",
    dataDir,
    "--log-level",
    "warn",
  ]);
}

async function startServer(name, logFile) {
  const dataDir = path.join(opt.out, "tmp", `rollcall-data-${process.pid}-${++runSeq}`);
  if (name === "rollcall") fs.mkdirSync(dataDir, { recursive: true });
  const [cmd, args] = serverCommand(name, dataDir);
  const err = fs.openSync(logFile, "a");
  fs.writeSync(err, `\n=== ${new Date().toISOString()} ${cmd} ${args.join(" ")}\n`);
  const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", err], cwd: opt.root }));
  fs.closeSync(err);
  const port = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const t = setTimeout(() => reject(new Error(`${name}: no "listening" line within 20 s (see ${logFile})`)), 20000);
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`${name} exited with ${code} before listening (see ${logFile})`));
    });
    rl.on("line", (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  child.stdout.resume();
  return { child, port, pid: child.pid, dataDir };
}

function loadgenArgs(p, procs, proc, port) {
  const args = ["--host", "127.0.0.1", "--port", String(port)];
  for (const [k, v] of Object.entries(p)) {
    let value = v;
    if (procs > 1 && (k === "clients" || k === "connect-rate")) value = Math.ceil(v / procs);
    args.push(`--${k}`, String(value));
  }
  if (procs > 1) args.push("--source-ips", `127.0.0.${2 + (proc % 4)}`);
  return args;
}

// ---------------------------------------------------------------- one run

async function runOnce(sc, serverName) {
  const p = opt.quick ? sc.quick : sc.full;
  const procs = sc.procs ?? 1;
  const logFile = path.join(opt.out, "logs", `${sc.name}.${serverName}.log`);
  const run = { scenario: sc.name, kind: sc.kind, server: serverName, params: p, procs, ok: false };
  let server;
  try {
    server = await startServer(serverName, logFile);
  } catch (e) {
    run.error = String(e.message ?? e);
    return run;
  }
  run.port = server.port;
  await sleep(500);
  const s = { base: procSample(server.pid) };
  const t0 = process.hrtime.bigint();
  const state = Array.from({ length: procs }, () => ({ connected: null, started: false, ended: false, result: null, lines: [] }));
  const lgs = [];
  const allOf = (k) => state.every((x) => x[k]);
  const deadlineS = (p.warmup ?? 0) + (p.duration ?? 0) + Math.ceil((p.clients ?? (p.users ?? 0) * (p["conns-per-user"] ?? 1)) / 200) + 60;
  const lgLog = fs.openSync(logFile, "a");
  for (let i = 0; i < procs; i++) {
    const args = loadgenArgs(p, procs, i, server.port);
    fs.writeSync(lgLog, `=== loadgen[${i}] ${LOADGEN} ${args.join(" ")}\n`);
    const [cmd, cargs] = pinned(LOADGEN_CPUS, LOADGEN, args);
    const lg = track(spawn(cmd, cargs, { stdio: ["ignore", "pipe", lgLog], cwd: opt.root }));
    lgs.push(lg);
    const st = state[i];
    createInterface({ input: lg.stdout }).on("line", (line) => {
      st.lines.push(line);
      if (line.startsWith("phase connected")) {
        st.connected = Number(line.split(/\s+/)[2]);
        if (allOf("connected") && !s.connected) s.connected = procSample(server.pid);
      } else if (line.startsWith("phase measure-start")) {
        st.started = true;
        if (allOf("started") && !s.start) {
          s.start = procSample(server.pid);
          s.lgStart = lgs.map((x) => procSample(x.pid));
        }
      } else if (line.startsWith("phase measure-end")) {
        st.ended = true;
        if (!s.end) {
          // the first to end closes the window in which all were measuring
          s.end = procSample(server.pid);
          s.lgEnd = lgs.map((x) => procSample(x.pid));
        }
      } else if (line.startsWith("result ")) {
        try {
          st.result = JSON.parse(line.slice(7));
        } catch (e) {
          st.resultError = String(e);
        }
      }
    });
  }
  fs.closeSync(lgLog);
  const exits = await Promise.all(
    lgs.map(async (lg) => {
      if (!(await waitExit(lg, deadlineS * 1000))) {
        await stopChild(lg, 3000);
        return "timeout";
      }
      return lg.exitCode ?? lg.signalCode;
    }),
  );
  run.loadgen_exit = exits;
  s.after = procSample(server.pid);
  await stopChild(server.child, 5000);
  fs.rmSync(server.dataDir, { recursive: true, force: true });
  fs.appendFileSync(logFile, state.map((x, i) => x.lines.map((l) => `loadgen[${i}] ${l}\n`).join("")).join(""));

  run.elapsed_s = Number(process.hrtime.bigint() - t0) / 1e9;
  run.samples = {};
  for (const [k, v] of Object.entries(s))
    if (v && !Array.isArray(v)) run.samples[k] = { ...v, t_s: Number(v.t_ns - t0) / 1e9, t_ns: undefined };
  run.results = state.map((x) => x.result);
  if (state.some((x) => !x.result)) {
    run.error = `load generator gave no result line (exit ${exits.join(",")}; see ${logFile})`;
    return run;
  }
  const R = mergeResults(run.results);
  run.loadgen = R;
  const d = (a, b, k) => (a && b ? b[k] - a[k] : NaN);
  const m = {};
  m.connected = R.connected;
  m.connect_errors = R.connect_errors;
  // at measure-end, while every client is still connected
  m.rss_end_mib = (s.end ?? s.after) ? (s.end ?? s.after).rss_kb / 1024 : NaN;
  m.rss_peak_mib = s.after ? s.after.hwm_kb / 1024 : NaN;
  const win = s.start && s.end ? Number(s.end.t_ns - s.start.t_ns) / 1e9 : NaN;
  const cpuWin = d(s.start, s.end, "cpu_s");
  m.window_s = win;
  m.server_cpu_pct = (100 * cpuWin) / win;
  if (s.lgStart && s.lgEnd) {
    // the load generators' own CPU: near 100 % of their core means they, not
    // the server, set the pace
    let lgCpu = 0;
    s.lgStart.forEach((a, i) => (lgCpu += d(a, s.lgEnd[i], "cpu_s")));
    m.loadgen_cpu_pct = (100 * lgCpu) / win;
  }
  if (sc.kind === "broadcast") {
    const work = R.delivered;
    m.cpu_us_per_unit = (1e6 * cpuWin) / work;
    m.throughput = R.delivered_per_s ?? work / win;
    // latency of a broadcast, if the load generator reports one
    const p99 = R.latency_us_p99 ?? R.rtt_us_p99;
    m.p99_us = p99 > 0 ? p99 : NaN;
    m.work = work;
  } else if (sc.kind === "echo") {
    const work = R.round_trips;
    m.cpu_us_per_unit = (1e6 * cpuWin) / work;
    m.throughput = R.rt_per_s ?? work / win;
    m.p50_us = R.rtt_us_p50 ?? NaN;
    m.p99_us = R.rtt_us_p99 ?? NaN;
    m.work = work;
  } else if (sc.kind === "churn") {
    const work = R.cycles;
    m.cpu_us_per_unit = (1e6 * cpuWin) / work;
    m.throughput = R.cycles_per_s ?? work / win;
    m.cycle_ms_p99 = R.cycle_ms_p99 ?? NaN;
    m.work = work;
  } else if (sc.kind === "connect") {
    const cpu = d(s.base, s.connected, "cpu_s");
    const t = s.connected ? Number(s.connected.t_ns - t0) / 1e9 : NaN;
    m.cpu_us_per_unit = (1e6 * cpu) / R.connected;
    m.throughput = R.connected / t;
    m.rss_per_conn_kib = s.connected ? (s.connected.rss_kb - s.base.rss_kb) / R.connected : NaN;
    m.connect_ms_p99 = R.connect_ms_p99 ?? NaN;
    m.work = R.connected;
  } else if (sc.kind === "idle") {
    m.rss_per_conn_kib = s.start ? (s.start.rss_kb - s.base.rss_kb) / R.connected : NaN;
    m.rss_mib = s.start ? s.start.rss_kb / 1024 : NaN;
    const beats = (R.connected * win) / HEARTBEAT_S;
    // below one heartbeat period the window may hold no ping at all
    m.cpu_us_per_heartbeat = win >= HEARTBEAT_S ? (1e6 * cpuWin) / beats : NaN;
    m.cpu_us_per_unit = m.cpu_us_per_heartbeat;
    m.idle_cpu_pct = m.server_cpu_pct;
    m.work = beats;
  }
  run.metrics = m;
  run.ok = Number.isFinite(m.cpu_us_per_unit) || Number.isFinite(m.rss_per_conn_kib);
  if (!run.ok) run.error = "no measurement (missing phase lines?)";
  return run;
}

function mergeResults(list) {
  // several load generators: counts add up, rates add up, percentiles: the worst
  const out = {};
  for (const r of list)
    for (const [k, v] of Object.entries(r)) {
      if (typeof v !== "number") {
        out[k] ??= v;
        continue;
      }
      if (/_p\d+$|p\d+_|_max$/.test(k)) out[k] = Math.max(out[k] ?? -Infinity, v);
      else if (/_min$/.test(k)) out[k] = Math.min(out[k] ?? Infinity, v);
      else if (/(mean|avg|_p50)/.test(k)) out[k] = (out[k] ?? 0) + v / list.length;
      else out[k] = (out[k] ?? 0) + v;
    }
  return out;
}

// ---------------------------------------------------------------- main

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

fs.mkdirSync(path.join(opt.out, "logs"), { recursive: true });
for (const f of fs.readdirSync(path.join(opt.out, "logs"))) fs.rmSync(path.join(opt.out, "logs", f), { force: true });

const chosen = SCENARIOS.filter((s) => !opt.scenarios || opt.scenarios.includes(s.name));
const runs = [];
const started = new Date();
console.log(
  `rollcall bench: ${opt.quick ? "quick" : "full"} run, ${chosen.length} scenarios, servers ${opt.servers.join(",")}, ` +
    `rollcalld --threads ${opt.threads}, repeat ${opt.repeat}, ` +
    (PIN ? `server on CPU ${serverCpus("node")}${opt.threads > 1 ? ` (rollcalld ${serverCpus("rollcall")})` : ""}, load generators on CPU ${LOADGEN_CPUS}` : "no pinning") +
    `, CLK_TCK ${CLK_TCK}`,
);
for (const sc of chosen) {
  const servers = opt.servers.filter((n) => n !== "floor" || sc.floor || opt.floorAll);
  for (let rep = 0; rep < opt.repeat; rep++)
    for (const name of servers) {
      // alternate the order between repeats so drift on a shared machine
      // does not always favour the same server
      const srv = rep % 2 ? servers[servers.length - 1 - servers.indexOf(name)] : name;
      process.stdout.write(`  ${sc.name.padEnd(13)} ${srv.padEnd(9)}`);
      const r = await runOnce(sc, srv);
      r.repeat = rep;
      runs.push(r);
      const m = r.metrics ?? {};
      console.log(
        r.ok
          ? `${fmt(m.cpu_us_per_unit)} us/unit  ${fmt(m.throughput)} /s  cpu ${fmt(m.server_cpu_pct)} %` +
              (m.rss_per_conn_kib !== undefined ? `  ${fmt(m.rss_per_conn_kib)} KiB/conn` : "") +
              `  (${r.elapsed_s.toFixed(0)} s)`
          : `FAILED: ${r.error}`,
      );
      await sleep(1000);
    }
}

// ---------------------------------------------------------------- summary

function fmt(v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// rows: [scenario, metric label, metric key, lower is better]
const ROWS = {
  broadcast: [
    ["CPU us / message delivered", "cpu_us_per_unit", true],
    ["messages delivered / s", "throughput", false],
    ["p99 latency us", "p99_us", true],
    ["server CPU %", "server_cpu_pct", null],
    ["load generator CPU %", "loadgen_cpu_pct", null],
    ["RSS MiB at measure-end", "rss_end_mib", true],
  ],
  echo: [
    ["CPU us / round trip", "cpu_us_per_unit", true],
    ["round trips / s", "throughput", false],
    ["p99 round trip us", "p99_us", true],
    ["server CPU %", "server_cpu_pct", null],
    ["load generator CPU %", "loadgen_cpu_pct", null],
  ],
  connect: [
    ["CPU us / connect", "cpu_us_per_unit", true],
    ["connects / s", "throughput", false],
    ["p99 connect ms", "connect_ms_p99", true],
  ],
  idle: [
    ["RSS KiB / idle connection", "rss_per_conn_kib", true],
    ["RSS MiB", "rss_mib", true],
    ["CPU us / heartbeat", "cpu_us_per_heartbeat", true],
    ["server CPU % (idle)", "idle_cpu_pct", true],
    ["connected", "connected", false],
  ],
  churn: [
    ["CPU us / connection cycle", "cpu_us_per_unit", true],
    ["cycles / s", "throughput", false],
    ["p99 cycle ms", "cycle_ms_p99", true],
    ["server CPU %", "server_cpu_pct", null],
    ["load generator CPU %", "loadgen_cpu_pct", null],
  ],
};

const summary = [];
for (const sc of chosen) {
  for (const [label, key, lower] of ROWS[sc.kind]) {
    const row = { scenario: sc.name, metric: label, key, lower_is_better: lower };
    for (const srv of SERVER_NAMES) {
      const vals = runs.filter((r) => r.scenario === sc.name && r.server === srv && r.ok).map((r) => r.metrics[key]);
      row[srv] = vals.length ? median(vals) : NaN;
    }
    row.rollcall_over_node = row.rollcall / row.node;
    row.rollcall_over_floor = row.rollcall / row.floor;
    if (Object.values(row).some((v) => typeof v === "number" && Number.isFinite(v))) summary.push(row);
  }
}

const head = ["scenario", "metric", "node", "floor", "rollcall", "rc/node", "rc/floor"];
const lines = summary.map((r) => [
  r.scenario,
  r.metric,
  fmt(r.node),
  fmt(r.floor),
  fmt(r.rollcall),
  Number.isFinite(r.rollcall_over_node) ? r.rollcall_over_node.toFixed(2) : "-",
  Number.isFinite(r.rollcall_over_floor) ? r.rollcall_over_floor.toFixed(2) : "-",
]);
const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const fmtLine = (l) => l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
let prev = null;
const tableLines = [fmtLine(head), widths.map((w) => "-".repeat(w)).join("  ")];
for (const l of lines) {
  if (prev !== null && l[0] !== prev) tableLines.push("");
  tableLines.push(fmtLine(prev === l[0] ? ["", ...l.slice(1)] : l));
  prev = l[0];
}
const failed = runs.filter((r) => !r.ok);
// a run whose load generator saw errors still counts, but the table says so
const warnings = [];
for (const r of runs) {
  const R = r.loadgen;
  if (!R) continue;
  const w = [];
  if (R.connect_errors > 0) w.push(`${R.connect_errors} connect errors`);
  if (R.lost > 0) w.push(`${R.lost} broadcast deliveries lost`);
  if (R.errors > 0) w.push(`${R.errors} churn errors`);
  if (R.disconnects > 0) w.push(`${R.disconnects} unexpected disconnects`);
  if (R.timed_out) w.push("load generator hit its deadline");
  if (R.ack_mismatch > 0) w.push(`${R.ack_mismatch} ack mismatches`);
  if (w.length) warnings.push(`${r.scenario}/${r.server}: ${w.join(", ")}`);
}
const table =
  tableLines.join("\n") +
  "\n\nrc/node, rc/floor: rollcalld's value divided by the other's; for CPU, RSS and latency below 1 means rollcalld uses less." +
  (warnings.length ? `\nwarnings: ${warnings.join("; ")}` : "") +
  (failed.length ? `\nFAILED runs: ${failed.map((r) => `${r.scenario}/${r.server}: ${r.error}`).join("; ")}` : "") +
  "\n";
console.log("\n" + table);

const host = {
  nproc: NCPU,
  clk_tck: CLK_TCK,
  pinned: PIN,
  server_cpus: { node: serverCpus("node"), floor: serverCpus("floor"), rollcall: serverCpus("rollcall") },
  loadgen_cpus: LOADGEN_CPUS,
  nofile: Number(execFileSync("sh", ["-c", "ulimit -n"]).toString().trim()),
  node: process.version,
  kernel: fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
  loadavg_end: fs.readFileSync("/proc/loadavg", "utf8").trim(),
};
const out = {
  started: started.toISOString(),
  finished: new Date().toISOString(),
  mode: opt.quick ? "quick" : "full",
  options: { threads: opt.threads, repeat: opt.repeat, scenarios: chosen.map((s) => s.name), servers: opt.servers, floor_all: opt.floorAll },
  host,
  scenarios: chosen.map((s) => ({ name: s.name, kind: s.kind, about: s.about, params: opt.quick ? s.quick : s.full, procs: s.procs ?? 1 })),
  summary,
  warnings,
  runs,
};
const replacer = (k, v) => (typeof v === "bigint" ? Number(v) : typeof v === "number" && !Number.isFinite(v) ? null : v);
fs.writeFileSync(path.join(opt.out, "results.json"), JSON.stringify(out, replacer, 2) + "\n");
fs.writeFileSync(path.join(opt.out, "table.txt"), table);

const csvq = (v) => (typeof v === "string" && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const num = (v) => (Number.isFinite(v) ? +v.toPrecision(6) : "");
const csv = ["scenario,metric,key,node,floor,rollcall,rollcall_over_node,rollcall_over_floor"];
for (const r of summary)
  csv.push([r.scenario, r.metric, r.key, num(r.node), num(r.floor), num(r.rollcall), num(r.rollcall_over_node), num(r.rollcall_over_floor)].map(csvq).join(","));
fs.writeFileSync(path.join(opt.out, "results.csv"), csv.join("\n") + "\n");

// gnuplot inputs: CPU per unit of work relative to Node, and RSS per idle connection
const g1 = ["# scenario node floor rollcall (CPU per unit of work, Node = 1)"];
for (const r of summary.filter((r) => r.key === "cpu_us_per_unit" || r.key === "cpu_us_per_heartbeat")) {
  if (r.key === "cpu_us_per_unit" && r.scenario.startsWith("idle")) continue;
  const base = r.node;
  const rel = (v) => (Number.isFinite(v) && Number.isFinite(base) && base > 0 ? (v / base).toFixed(4) : "-");
  g1.push(`"${r.scenario}${r.key === "cpu_us_per_heartbeat" ? " beat" : ""}" ${rel(r.node)} ${rel(r.floor)} ${rel(r.rollcall)}`);
}
const g2 = ["# scenario node floor rollcall (RSS KiB per idle connection)"];
for (const r of summary.filter((r) => r.key === "rss_per_conn_kib"))
  g2.push(`"${r.scenario}" ${[r.node, r.floor, r.rollcall].map((v) => (Number.isFinite(v) ? v.toFixed(2) : "-")).join(" ")}`);
fs.writeFileSync(path.join(opt.out, "cpu.dat"), g1.join("\n") + "\n");
fs.writeFileSync(path.join(opt.out, "rss.dat"), g2.join("\n") + "\n");
fs.rmSync(path.join(opt.out, "tmp"), { recursive: true, force: true });
process.exitCode = failed.length ? 1 : 0;
