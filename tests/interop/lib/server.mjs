// Spawns a rollcall server binary for one test file.
//
//   const server = await startServer({ args: ["--recovery-ms", "0"] });
//   ... server.url, server.port, server.base ...
//   await server.stop();
//
// The binary comes from $ROLLCALL_BIN_DIR (set by ctest). It is started with
// `--listen 127.0.0.1:0` plus the extra arguments, and is ready once it prints
// a stdout line `listening <port>`. Each test file spawns its own servers, so
// files can run in parallel.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { withDeadline } from "./util.mjs";

export * from "./util.mjs";
export * from "./client.mjs";

const READY_MS = 15000;
const STOP_MS = 5000;
const KEEP_BYTES = 256 * 1024;
const SANITIZER_REPORT = /(ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer)|SUMMARY: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|runtime error: )/;

const live = new Set();
process.on("exit", () => {
  for (const proc of live) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Absolute path of a binary in $ROLLCALL_BIN_DIR; throws a clear error when unusable. */
export function binPath(name) {
  const dir = process.env.ROLLCALL_BIN_DIR;
  if (!dir) {
    throw new Error(
      "ROLLCALL_BIN_DIR is not set. Run the interop tests through ctest, or export " +
        "ROLLCALL_BIN_DIR=<build dir>/bin before `node --test`.",
    );
  }
  const file = path.resolve(dir, name);
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new Error(`server binary not found: ${file} (build it first: scripts/build.sh)`);
  }
  if (!stat.isFile()) throw new Error(`server binary is not a file: ${file}`);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new Error(`server binary is not executable: ${file}`);
  }
  return file;
}

function appendCapped(current, chunk) {
  const next = current + chunk;
  return next.length > KEEP_BYTES ? next.slice(next.length - KEEP_BYTES) : next;
}

/**
 * Starts `bin` (default rollcall-interop-server) from $ROLLCALL_BIN_DIR.
 * Resolves with { port, url, base, proc, stop(), output() }:
 *   url/base  "http://127.0.0.1:<port>" (socket.io-client appends the namespace)
 *   stop()    SIGTERM, wait up to 5 s for the exit, then SIGKILL. Rejects when the
 *             server needed SIGKILL, exited with an error status, or printed a
 *             sanitizer report, with its captured stderr in the message.
 *   kill()    SIGKILL (or another signal) without the checks of stop(), for crash tests.
 *   output()  the captured stdout/stderr (tail) for diagnostics.
 */
export async function startServer({ bin = "rollcall-interop-server", args = [], readyMs = READY_MS, nofile, env } = {}) {
  const file = binPath(bin);
  const argv = ["--listen", "127.0.0.1:0", ...args];
  // `nofile`: the server's open-file limit (RLIMIT_NOFILE), set by a shell
  // that then becomes the server.
  const proc = nofile
    ? spawn("/bin/sh", ["-c", `ulimit -n ${Number(nofile)} && exec "$0" "$@"`, file, ...argv], {
        stdio: ["ignore", "pipe", "pipe"],
        env: env ? { ...process.env, ...env } : process.env,
      })
    : spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], env: env ? { ...process.env, ...env } : process.env });
  live.add(proc);

  let stdout = "";
  let stderr = "";
  let stopping = false;
  let exitInfo = null;
  const label = `${bin} ${argv.join(" ")}`;

  const exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      if (!stopping) {
        process.stderr.write(
          `\n[interop] ${label} exited unexpectedly (code ${code}, signal ${signal}). stderr:\n${stderr}\n`,
        );
      }
      resolve(exitInfo);
    });
  });

  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    stderr = appendCapped(stderr, chunk);
  });

  const ready = new Promise((resolve, reject) => {
    let pending = "";
    proc.stdout.setEncoding("utf8");
    // Keep draining stdout for the whole life of the process: a full pipe
    // would block the server.
    proc.stdout.on("data", (chunk) => {
      stdout = appendCapped(stdout, chunk);
      if (pending === null) return;
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        const m = /^listening (\d+)$/.exec(line);
        if (m) {
          pending = null;
          resolve(Number(m[1]));
          return;
        }
      }
    });
    proc.once("error", (err) => reject(new Error(`cannot start ${file}: ${err.message}`)));
    exited.then(({ code, signal }) =>
      reject(new Error(`${label} exited before printing "listening <port>" (code ${code}, signal ${signal})`)),
    );
  });

  let port;
  try {
    port = await withDeadline(ready, readyMs, `"listening <port>" from ${label}`);
  } catch (err) {
    if (!exitInfo) {
      stopping = true;
      proc.kill("SIGKILL");
      await exited;
    }
    throw new Error(`${err.message}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
  }

  const base = `http://127.0.0.1:${port}`;

  async function stop() {
    if (exitInfo && stopping) return exitInfo;
    const crashedBefore = exitInfo !== null;
    stopping = true;
    let killed = false;
    if (!exitInfo) {
      proc.kill("SIGTERM");
      try {
        await withDeadline(exited, STOP_MS, `${bin} to exit after SIGTERM`);
      } catch {
        killed = true;
        proc.kill("SIGKILL");
        await exited;
      }
    }
    const problems = [];
    if (crashedBefore) problems.push(`exited before stop() (code ${exitInfo.code}, signal ${exitInfo.signal})`);
    if (killed) problems.push(`did not exit within ${STOP_MS} ms of SIGTERM (killed)`);
    else if (!crashedBefore && !(exitInfo.code === 0 || exitInfo.signal === "SIGTERM")) {
      problems.push(`exit status after SIGTERM: code ${exitInfo.code}, signal ${exitInfo.signal}`);
    }
    if (SANITIZER_REPORT.test(stderr)) problems.push("sanitizer report on stderr");
    if (problems.length) {
      throw new Error(`${label}: ${problems.join("; ")}\n--- stderr (tail) ---\n${stderr}`);
    }
    return exitInfo;
  }

  /**
   * Kills the server with `signal` (default SIGKILL: a crash) and resolves
   * with { code, signal } once it exited. A later stop() is then a no-op.
   */
  async function kill(sig = "SIGKILL") {
    stopping = true;
    if (!exitInfo) {
      proc.kill(sig);
      await withDeadline(exited, STOP_MS, `${bin} to exit after ${sig}`);
    }
    return exitInfo;
  }

  return {
    port,
    url: base,
    base,
    proc,
    stop,
    kill,
    alive: () => exitInfo === null,
    output: () => ({ stdout, stderr }),
  };
}
