// Smoke test of the benchmark tools: rollcall-loadgen runs every scenario
// for a second against `rollcalld --bench` (2 loops) on 127.0.0.1 and must
// connect every client without errors and get work done. Speed is measured
// by bench/compare.sh, not here. Run by ctest as bench.smoke.
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

const BIN = process.env.ROLLCALL_BIN_DIR;
if (!BIN) throw new Error("ROLLCALL_BIN_DIR is not set (ctest sets it)");
const run = promisify(execFile);

function startRollcalld() {
  const proc = spawn(path.join(BIN, "rollcalld"), ["--bench", "--listen", "127.0.0.1:0", "--threads", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
  const port = new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`rollcalld did not print "listening" in 10 s: ${stderr}`)), 10000);
    proc.stdout.setEncoding("utf8").on("data", (c) => {
      out += c;
      const m = /^listening (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once("exit", (code) => reject(new Error(`rollcalld exited (${code}): ${stderr}`)));
  });
  return { proc, port, stderr: () => stderr };
}

async function loadgen(port, args) {
  const { stdout } = await run(path.join(BIN, "rollcall-loadgen"), ["--port", String(port), "--duration", "1", ...args], {
    timeout: 30000,
  });
  const line = stdout.split("\n").find((l) => l.startsWith("result "));
  assert.ok(line, `no result line in:\n${stdout}`);
  return JSON.parse(line.slice("result ".length));
}

describe("rollcall-loadgen against rollcalld --bench", () => {
  let server;
  let port;
  before(async () => {
    server = startRollcalld();
    port = await server.port;
  });
  after(async () => {
    if (!server || server.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => server.proc.once("exit", (code, signal) => resolve({ code, signal })));
    server.proc.kill("SIGTERM");
    const { code } = await exited;
    assert.equal(code, 0, `rollcalld exit status after SIGTERM; stderr:\n${server.stderr()}`);
  });

  const cases = [
    ["idle", ["--scenario", "idle", "--clients", "200"], (r) => r.connected === 200],
    ["broadcast", ["--scenario", "broadcast", "--clients", "100", "--max-inflight", "4"], (r) => r.delivered > 0],
    ["echo", ["--scenario", "echo", "--clients", "20"], (r) => r.round_trips > 0],
    ["polling-echo", ["--scenario", "polling-echo", "--clients", "20"], (r) => r.round_trips > 0],
    ["churn", ["--scenario", "churn", "--clients", "60", "--users", "20", "--conns-per-user", "3"], (r) => r.cycles > 0],
  ];
  for (const [name, args, worked] of cases) {
    it(`${name}: every client connects, no errors, work done`, async () => {
      const r = await loadgen(port, args);
      assert.equal(r.connect_errors, 0, JSON.stringify(r));
      assert.deepEqual(r.errors_by_kind, {}, JSON.stringify(r));
      assert.equal(r.timed_out, false);
      assert.ok(worked(r), JSON.stringify(r));
    });
  }
});
