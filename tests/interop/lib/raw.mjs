// Raw Engine.IO / Socket.IO traffic: HTTP long-polling with fetch and
// WebSocket frames with `ws`, for the checks a real client cannot make.

import net from "node:net";

import WebSocket from "ws";

import { track } from "./client.mjs";
import { WAIT_MS, safeJson } from "./util.mjs";

export { WebSocket };

/** Record separator of v4 polling payloads. */
export const RS = "\x1e";

/** http://host:port + path + ?EIO=4&transport=...&extra */
export function eioUrl(base, path, params = {}) {
  const q = new URLSearchParams({ EIO: "4", transport: "polling", ...params });
  return `${base}${path}?${q}`;
}

export function wsUrl(base, path, params = {}) {
  return eioUrl(base.replace(/^http/, "ws"), path, { transport: "websocket", ...params });
}

/** Plain fetch with a deadline; resolves { status, headers, body (string) }. */
export async function http(url, { method = "GET", body, headers, ms = WAIT_MS } = {}) {
  try {
    const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(ms) });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch (err) {
    const why = err?.name === "TimeoutError" ? `no complete response within ${ms} ms` : err?.message;
    const e = new Error(`${method} ${url}: ${why}${err?.cause ? ` (${err.cause.message ?? err.cause})` : ""}`);
    e.cause = err;
    throw e;
  }
}

/** GET without sid: resolves { status, sid, handshake, body, headers }. */
export async function pollingHandshake(base, path, params = {}) {
  const res = await http(eioUrl(base, path, params));
  let handshake = null;
  if (res.status === 200 && res.body.startsWith("0")) handshake = JSON.parse(res.body.slice(1));
  return { ...res, handshake, sid: handshake?.sid };
}

/** Long-poll GET for `sid`. */
export function poll(base, path, sid, opts = {}) {
  return http(eioUrl(base, path, { sid, ...(opts.params ?? {}) }), opts);
}

/** POST `body` for `sid`. */
export function post(base, path, sid, body, opts = {}) {
  return http(eioUrl(base, path, { sid }), { ...opts, method: "POST", body });
}

/** Splits a v4 polling payload: text packets stay strings, `b<base64>` become Buffers. */
export function decodePayload(text) {
  if (text === "") return [];
  return text.split(RS).map((p) => (p.startsWith("b") ? Buffer.from(p.slice(1), "base64") : p));
}

/** Joins packets into a v4 polling payload (Buffers become `b<base64>`). */
export function encodePayload(packets) {
  return packets.map((p) => (typeof p === "string" ? p : `b${Buffer.from(p).toString("base64")}`)).join(RS);
}

/**
 * A `ws` WebSocket whose incoming frames are queued, so that two frames
 * arriving in one TCP read are never lost between two awaits.
 * Text frames are queued as strings, binary frames as Buffers.
 * With autoPong, Engine.IO pings ("2") are answered ("3") and not queued.
 */
export class RawWs {
  constructor(url, { autoPong = false, headers } = {}) {
    this.url = url;
    this.autoPong = autoPong;
    this.frames = [];
    this.waiters = [];
    this.closeInfo = null;
    this.error = null;
    this.ws = new WebSocket(url, { headers });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("close", () => reject(new Error(`websocket closed before open: ${url} ${this.error?.message ?? ""}`)));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) w.reject(new Error(`websocket closed (code ${code}) while waiting for a frame`));
        resolve(this.closeInfo);
      });
    });
    this.ws.on("error", (err) => {
      this.error = err;
    });
    this.ws.on("message", (data, isBinary) => {
      const frame = isBinary ? Buffer.from(data) : data.toString("utf8");
      if (this.autoPong && frame === "2") {
        this.send("3");
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve(frame);
      else this.frames.push(frame);
    });
    track(this);
  }

  /** Opens and waits for the connection (rejects if it is refused/closed first). */
  static async open(url, opts = {}, ms = WAIT_MS) {
    const raw = new RawWs(url, opts);
    await raw.waitOpen(ms);
    return raw;
  }

  async waitOpen(ms = WAIT_MS) {
    let timer;
    try {
      await Promise.race([
        this.opened,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`websocket not open within ${ms} ms: ${this.url}`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Next frame (string or Buffer), waiting up to `ms`. */
  next(ms = WAIT_MS) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    if (this.closeInfo) return Promise.reject(new Error(`websocket already closed (code ${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no websocket frame within ${ms} ms (${this.url})`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Next n frames. */
  async nextN(n, ms = WAIT_MS) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next(ms));
    return out;
  }

  send(data) {
    this.ws.send(data);
  }

  /** Resolves { code, reason } once the connection is closed; rejects after `ms`. */
  async waitClose(ms = WAIT_MS) {
    let timer;
    try {
      return await Promise.race([
        this.closed,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`websocket still open after ${ms} ms; queued frames: ${safeJson(this.frames)}`)),
            ms,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Abrupt close (TCP teardown, no close frame). */
  terminate() {
    this.ws.terminate();
  }

  close() {
    this.ws.terminate();
  }
}

/**
 * Opens an Engine.IO WebSocket session (no sid) and reads the open packet.
 * Resolves { raw, handshake }.
 */
export async function wsHandshake(base, path, opts = {}) {
  const raw = await RawWs.open(wsUrl(base, path), opts);
  const open = await raw.next();
  if (typeof open !== "string" || !open.startsWith("0")) {
    throw new Error(`expected an open packet, got ${safeJson(open)}`);
  }
  return { raw, handshake: JSON.parse(open.slice(1)) };
}

/**
 * Engine.IO WebSocket session + Socket.IO CONNECT to `nsp` ("/" by default).
 * Resolves { raw, handshake, sid (socket id), connect (the CONNECT reply payload) }.
 */
export async function sioWsConnect(base, { path = "/socket.io/", nsp = "/", auth, autoPong = true } = {}) {
  const { raw, handshake } = await wsHandshake(base, path, { autoPong });
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  raw.send(auth === undefined ? prefix : prefix + JSON.stringify(auth));
  const reply = await raw.next();
  if (typeof reply !== "string" || !reply.startsWith(prefix)) {
    throw new Error(`expected a CONNECT reply starting with ${prefix}, got ${safeJson(reply)}`);
  }
  const connect = JSON.parse(reply.slice(prefix.length));
  return { raw, handshake, sid: connect.sid, connect };
}

/**
 * A WebSocket client on a bare TCP socket, for handshakes a WebSocket
 * library will not send: the request in several writes, or client frames
 * in the same write as the request. `parts` are written in order, each
 * after the `between` callback resolves. Resolves { status, head, next() }:
 * the HTTP status line's code, the response head, and next() for the
 * server's frames (text frames as strings, unfragmented, < 64 KiB).
 */
export async function tcpWebSocket(base, parts, { between = async () => {}, ms = WAIT_MS } = {}) {
  const { hostname, port } = new URL(base);
  const sock = net.createConnection({ host: hostname, port: Number(port), noDelay: true });
  await new Promise((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  let buf = Buffer.alloc(0);
  let wake = null;
  let ended = false;
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  sock.on("close", () => {
    ended = true;
    wake?.();
  });
  sock.on("error", () => {});
  track({ close: () => sock.destroy() });
  const until = async (ready, what) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = ready();
      if (r !== undefined) return r;
      if (ended) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  };
  for (const [i, part] of parts.entries()) {
    if (i > 0) await between(i);
    sock.write(part);
  }
  const head = await until(() => {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const h = buf.subarray(0, end).toString("latin1");
    buf = buf.subarray(end + 4);
    return h;
  }, "HTTP response");
  const status = Number(head.split(" ")[1]);
  const next = () =>
    until(() => {
      if (buf.length < 2) return undefined;
      const len = buf[1] & 0x7f;
      let off = 2;
      let n = len;
      if (len === 126) {
        if (buf.length < 4) return undefined;
        n = buf.readUInt16BE(2);
        off = 4;
      }
      if (buf.length < off + n) return undefined;
      const payload = buf.subarray(off, off + n);
      const text = (buf[0] & 0x0f) === 1;
      buf = buf.subarray(off + n);
      return text ? payload.toString("utf8") : Buffer.from(payload);
    }, "WebSocket frame");
  return { status, head, next, socket: sock };
}

/** A masked client text frame (payload < 126 bytes). */
export function clientTextFrame(text) {
  const payload = Buffer.from(text, "utf8");
  if (payload.length >= 126) throw new Error("clientTextFrame: payload too long");
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ mask[i % 4];
  return out;
}

/** The bytes of a WebSocket handshake request for a new Engine.IO session. */
export function upgradeRequest(base, path = "/socket.io/", { version = "13" } = {}) {
  const { host } = new URL(base);
  return (
    `GET ${path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${host}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n\r\n`
  );
}
