// rollcalld with a TOML config in a fresh temp dir, plus the helpers the
// presence/auth/webhook/config tests share.
//
//   const rc = await startRollcalld({ config: presenceConfig({ receiver: rx }) });
//   rc.url, rc.dir, rc.configFile, rc.config
//   const sock = await connectUser(rc.url, token);
//   const { status, json } = await api(rc, "/v1/presence/users/alice");
//   await rc.kill();                 // SIGKILL
//   const again = await restartRollcalld(rc);   // same config file and data dir
//   await rc.stop(); rc.cleanup();   // cleanup() removes the temp dir
//
// runRollcalld(args) runs the binary to completion (config validation tests).

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { connect, makeSocket } from "./client.mjs";
import { signHS256 } from "./jwt.mjs";
import { binPath, startServer } from "./server.mjs";
import { WAIT_MS, pollUntil, withDeadline } from "./util.mjs";

export const JWT_SECRET = "jwt-secret-for-the-interop-tests-0123456789";
export const API_KEY = "api-key-for-the-interop-tests-0123";
export const WEBHOOK_SECRET = "webhook-secret-for-the-interop-tests";

const tempDirs = new Set();
process.on("exit", () => {
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

/** A fresh directory under the OS temp dir, removed when the process exits. */
export function tempDir(prefix = "rollcall-test-") {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

function tomlString(s) {
  return JSON.stringify(String(s)); // TOML basic strings accept JSON escapes for what we write
}

function tomlValue(v) {
  if (typeof v === "string") return tomlString(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`toml: not a finite number: ${v}`);
    return String(v);
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(", ")}]`;
  throw new Error(`toml: unsupported value ${JSON.stringify(v)}`);
}

/** { table: { key: value } } -> TOML text. Keys whose value is undefined are left out. */
export function toToml(config) {
  const lines = [];
  for (const [table, keys] of Object.entries(config)) {
    if (keys === undefined) continue;
    lines.push(`[${table}]`);
    for (const [k, v] of Object.entries(keys)) {
      if (v === undefined) continue;
      lines.push(`${k} = ${tomlValue(v)}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/**
 * The usual test config: HS256 auth, a short grace period, the API key and,
 * when `receiver` is given, webhooks to it with fast retries. `overrides`
 * is merged per table (a table set to undefined is removed).
 */
export function presenceConfig({ receiver = null, graceMs = 400, overrides = {} } = {}) {
  const base = {
    server: { threads: 2 },
    auth: { jwt_secret: JWT_SECRET },
    presence: { grace_ms: graceMs },
    api: { key: API_KEY },
    log: { level: "warn" },
  };
  if (receiver) {
    base.webhooks = {
      url: receiver.url,
      secret: WEBHOOK_SECRET,
      backoff_min_ms: 50,
      backoff_max_ms: 200,
      connect_timeout_ms: 2000,
      // generous: a test process busy with many sockets may answer late, and
      // a timed-out 2xx is (rightly) delivered again
      timeout_ms: 15000,
    };
  }
  for (const [table, keys] of Object.entries(overrides)) {
    if (keys === undefined) delete base[table];
    else base[table] = { ...(base[table] ?? {}), ...keys };
  }
  return base;
}

/**
 * Writes `config` (an object for toToml, or TOML text) to <dir>/rollcall.toml,
 * with server.data_dir = dir unless the config sets a store, and starts
 * rollcalld on 127.0.0.1:0. Resolves with the server handle of startServer()
 * plus { dir, configFile, config, cleanup() }.
 */
export async function startRollcalld({ config = presenceConfig(), dir = null, args = [], readyMs, env } = {}) {
  const d = dir ?? tempDir();
  let text = config;
  if (typeof config !== "string") {
    const c = structuredClone(config);
    if (!c.store?.url) c.server = { data_dir: d, ...(c.server ?? {}) };
    text = toToml(c);
  }
  const configFile = path.join(d, "rollcall.toml");
  fs.writeFileSync(configFile, text);
  const server = await startServer({ bin: "rollcalld", args: ["--config", configFile, ...args], readyMs, env });
  return {
    ...server,
    dir: d,
    configFile,
    config,
    args,
    cleanup() {
      fs.rmSync(d, { recursive: true, force: true });
      tempDirs.delete(d);
    },
  };
}

/** Starts rollcalld again with the config file and data dir of `previous` (which must have exited). */
export async function restartRollcalld(previous, { readyMs } = {}) {
  const server = await startServer({
    bin: "rollcalld",
    args: ["--config", previous.configFile, ...previous.args],
    readyMs,
  });
  return { ...server, dir: previous.dir, configFile: previous.configFile, config: previous.config, args: previous.args, cleanup: previous.cleanup };
}

/**
 * Runs rollcalld with `args` until it exits (deadline `ms`); resolves with
 * { code, signal, stdout, stderr }. Kills it and rejects when it is still
 * running at the deadline (e.g. it started listening on a bad config).
 */
export function runRollcalld(args, { ms = WAIT_MS, cwd, env } = {}) {
  const file = binPath("rollcalld");
  return new Promise((resolve, reject) => {
    const proc = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], cwd, env: env ? { ...process.env, ...env } : process.env });
    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
    proc.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`rollcalld ${args.join(" ")} still running after ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, ms);
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** An HS256 token for `sub` signed with JWT_SECRET (or `secret`). */
export function tokenFor(sub, { orgs, name, secret = JWT_SECRET, ...claims } = {}) {
  return signHS256({ sub, ...(name ? { name } : {}), ...(orgs ? { orgs } : {}), ...claims }, secret);
}

/** Connects one socket of a user (websocket transport, forceNew, no reconnection). */
export function connectUser(url, token, opts = {}, ms) {
  return connect(url, { transports: ["websocket"], auth: { token }, ...opts }, ms);
}

/** makeSocket for a user, without waiting for the connection. */
export function userSocket(url, token, opts = {}) {
  return makeSocket(url, { transports: ["websocket"], auth: { token }, ...opts });
}

/**
 * GET `p` on the server's HTTP API with `Authorization: Bearer <key>`
 * (key API_KEY by default; null sends no header). Resolves { status, json, text }.
 */
export async function api(server, p, { key = API_KEY, ms = WAIT_MS } = {}) {
  const headers = key === null ? {} : { authorization: `Bearer ${key}` };
  const res = await withDeadline(
    fetch(`${server.base}${p}`, { headers, signal: AbortSignal.timeout(ms) }),
    ms + 500,
    `GET ${p}`,
  );
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Resolves after the socket's "disconnect" (or at once when it is not connected). */
export function closeSocket(socket, ms = WAIT_MS) {
  if (!socket.connected) {
    socket.disconnect();
    return Promise.resolve();
  }
  const gone = new Promise((resolve) => socket.once("disconnect", () => resolve()));
  socket.disconnect();
  return withDeadline(gone, ms, "the socket to disconnect");
}

/**
 * Waits until the HTTP API shows `user` online (or offline with
 * `online: false`); presence is updated on its own thread, shortly after the
 * CONNECT. Resolves with the API's JSON.
 */
export function waitPresence(server, user, { online = true, ms = WAIT_MS } = {}) {
  return pollUntil(
    async () => (await api(server, `/v1/presence/users/${encodeURIComponent(user)}`)).json,
    (j) => j?.online === online,
    { ms, interval: 25, what: `${user} ${online ? "online" : "offline"} in /v1/presence/users` },
  );
}

/** POST `body` (an object, or raw text) to /v1/emit. Resolves { status, json }. */
export async function postEmit(server, body, { key = API_KEY, method = "POST" } = {}) {
  const headers = { "content-type": "application/json" };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await withDeadline(
    fetch(`${server.base}/v1/emit`, {
      method,
      headers,
      body: method === "GET" ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(WAIT_MS),
    }),
    WAIT_MS + 500,
    "POST /v1/emit",
  );
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, headers: res.headers };
}

/**
 * `method` `p` on the HTTP API with the API key and a JSON body (an
 * object, or raw text). Resolves { status, json, text }.
 */
export async function apiRequest(server, method, p, body, { key = API_KEY, ms = WAIT_MS } = {}) {
  const headers = { "content-type": "application/json" };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await withDeadline(
    fetch(`${server.base}${p}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(ms),
    }),
    ms + 500,
    `${method} ${p}`,
  );
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}
