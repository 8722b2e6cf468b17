// A tiny Redis (RESP2) client over node:net, enough for the session tests:
//
//   const port = requireRedisPort();          // throws a clear error if unset
//   await redisCommand(port, ["PING"]);       // "PONG"
//   await redisCommand(port, ["SET", "sess:abc", JSON.stringify(session)]);
//
// One connection per command; every command has a deadline.

import net from "node:net";

import { WAIT_MS } from "./util.mjs";

/** $REDIS_PORT as a number, or an Error telling how to start Redis. */
export function requireRedisPort() {
  const raw = process.env.REDIS_PORT;
  if (!raw || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new Error(
      `REDIS_PORT is ${raw === undefined ? "not set" : `invalid (${JSON.stringify(raw)})`}: the session tests need ` +
        "a Redis on 127.0.0.1:$REDIS_PORT. Start one with: REDIS_PORT=16379 bash scripts/services.sh start, " +
        "then run the tests with REDIS_PORT=16379",
    );
  }
  return Number(raw);
}

/** RESP encoding of a command (array of bulk strings). */
export function encodeCommand(args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(`$${b.length}\r\n`, b, "\r\n");
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

/**
 * Parses one RESP value at `pos`; returns { value, next } or null when
 * `buf` is incomplete. Error replies become { error: "..." }.
 */
export function parseReply(buf, pos = 0) {
  if (pos >= buf.length) return null;
  const eol = buf.indexOf("\r\n", pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString("utf8", pos + 1, eol);
  const after = eol + 2;
  switch (type) {
    case "+":
      return { value: line, next: after };
    case "-":
      return { value: { error: line }, next: after };
    case ":":
      return { value: Number(line), next: after };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      if (buf.length < after + n + 2) return null;
      return { value: buf.toString("utf8", after, after + n), next: after + n + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      const items = [];
      let p = after;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r.value);
        p = r.next;
      }
      return { value: items, next: p };
    }
    default:
      throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)}`);
  }
}

/** Sends one command to 127.0.0.1:`port`; resolves with the reply, rejects on an error reply or after `ms`. */
export function redisCommand(port, args, { host = "127.0.0.1", ms = WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const sock = net.connect({ host, port });
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const what = `Redis ${args[0]} on ${host}:${port}`;
    const timer = setTimeout(() => finish(new Error(`${what}: no reply within ${ms} ms`)), ms);
    sock.on("connect", () => sock.write(encodeCommand(args)));
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let r;
      try {
        r = parseReply(buf);
      } catch (err) {
        finish(new Error(`${what}: ${err.message}`));
        return;
      }
      if (!r) return;
      if (r.value && typeof r.value === "object" && "error" in r.value) {
        finish(new Error(`${what}: ${r.value.error}`));
      } else {
        finish(null, r.value);
      }
    });
    sock.on("error", (err) => finish(new Error(`${what}: ${err.message} (is Redis running? see scripts/services.sh)`)));
    sock.on("close", () => finish(new Error(`${what}: connection closed before a reply`)));
  });
}

/** Resolves when Redis on `port` answers PING with PONG; rejects with a clear message otherwise. */
export async function requireRedis(port) {
  let reply;
  try {
    reply = await redisCommand(port, ["PING"], { ms: 3000 });
  } catch (err) {
    throw new Error(
      `no Redis answers on 127.0.0.1:${port} (REDIS_PORT): ${err.message}. ` +
        "Start one with: REDIS_PORT=16379 bash scripts/services.sh start",
    );
  }
  if (reply !== "PONG") throw new Error(`Redis on 127.0.0.1:${port} answered PING with ${JSON.stringify(reply)}`);
}
