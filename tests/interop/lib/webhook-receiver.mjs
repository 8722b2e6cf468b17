// A webhook receiver for the rollcalld tests: node:http on 127.0.0.1:0 that
// verifies each delivery the way a receiver app must (docs/webhooks.md:
// timestamp within 5 minutes, HMAC-SHA256 over `timestamp + "." + raw body`,
// constant-time comparison) and records what it saw.
//
//   const rx = await startReceiver({ secret });
//   rx.url                      // "http://127.0.0.1:<port>/hook" for webhooks.url
//   rx.respondWith(500)         // answer 500 to every verified delivery (200 again: respondWith(200))
//   rx.delayMs = 300            // answer each delivery after 300 ms
//   await rx.down()             // close the port: connections are refused
//   await rx.up()               // listen again on the SAME port
//   await rx.waitFor((rx) => rx.delivered("alice").length === 1, 5000, "alice online")
//   rx.requests                 // every request: { at, status, problem, events, raw, ... }; status
//                               // "gone" when the sender closed the connection before the answer
//   rx.accepted()               // events of the requests answered 2xx, in arrival order (with repeats)
//   rx.delivered(user?)         // accepted events de-duplicated by id, first delivery order
//   rx.rejected()               // requests refused by the verification (should stay empty)
//   await rx.close()
//
// waitFor() re-checks its predicate after every request and every answer.

import crypto from "node:crypto";
import http from "node:http";

import { WAIT_MS, safeJson } from "./util.mjs";

const MAX_SKEW_S = 5 * 60;
const MAX_BODY = 8 << 20;

/** "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + raw). */
export function webhookSignature(secret, timestamp, raw) {
  return `sha256=${crypto.createHmac("sha256", secret).update(`${timestamp}.`).update(raw).digest("hex")}`;
}

/** The receiver-side check of docs/webhooks.md; returns null when valid, else the reason. */
export function verifyDelivery(secret, timestamp, signature, raw, nowMs = Date.now()) {
  if (!/^\d+$/.test(timestamp ?? "")) return `bad timestamp ${safeJson(timestamp)}`;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SKEW_S) return `stale timestamp ${timestamp}`;
  const expected = Buffer.from(webhookSignature(secret, timestamp, raw));
  const given = Buffer.from(signature ?? "");
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) {
    return `bad signature ${safeJson(signature)}`;
  }
  return null;
}

export async function startReceiver({ secret, path = "/hook", status = 200, delayMs = 0 } = {}) {
  if (!secret) throw new Error("startReceiver: secret is required");
  const requests = [];
  const waiters = new Set();
  const sockets = new Set();
  let answer = status;
  let server = null;
  let port = 0;
  let isUp = false;
  const t0 = Date.now();

  const rx = {
    requests,
    delayMs,
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}${path}`;
    },
    get isUp() {
      return isUp;
    },
    /** Status answered to verified deliveries from now on (200, 500, ...). */
    respondWith(code) {
      answer = code;
    },
    accepted,
    delivered,
    rejected: () => requests.filter((r) => r.problem),
    waitFor,
    down,
    up,
    close: down,
    /** A one-line summary of the requests, for assertion messages. */
    describe() {
      return requests
        .map(
          (r, i) =>
            `#${i} ${r.status ?? "pending"}${r.problem ? ` (${r.problem})` : ""} ` +
            `[+${r.startedAt - t0}ms, answered after ${r.answeredAt === null ? "-" : r.answeredAt - r.startedAt}ms]: ` +
            (r.events.length > 6 ? [...r.events.slice(0, 3), null, ...r.events.slice(-2)] : r.events)
              .map((e) => (e ? `${e.user}:${e.type === "user.online" ? "on" : "off"}@${e.seq}` : `...(${r.events.length})`))
              .join(","),
        )
        .join("\n");
    },
  };

  function accepted() {
    const out = [];
    for (const r of requests) if (r.status >= 200 && r.status < 300) out.push(...r.events);
    return out;
  }

  function delivered(user = null) {
    const seen = new Set();
    const out = [];
    for (const e of accepted()) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      if (user === null || e.user === user) out.push(e);
    }
    return out;
  }

  function check() {
    for (const w of [...waiters]) {
      let ok = false;
      try {
        ok = w.predicate(rx);
      } catch (err) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(err);
        continue;
      }
      if (ok) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(ok);
      }
    }
  }

  /** Resolves with the predicate's truthy value, or rejects after `ms` naming `what`. */
  function waitFor(predicate, ms = WAIT_MS, what = "webhook condition") {
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve, reject, timer: null };
      w.timer = setTimeout(() => {
        waiters.delete(w);
        const tail = rx.describe().split("\n").slice(-15).join("\n");
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; ${requests.length} requests, last:\n${tail}`));
      }, ms);
      waiters.add(w);
      check();
    });
  }

  function handle(req, res) {
    const startedAt = Date.now();
    // The sender gave up on this request (e.g. its timeout_ms) before the
    // answer was written: it never saw our status, so it does not count.
    let senderGone = false;
    res.on("close", () => {
      if (!res.writableFinished) senderGone = true;
    });
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const record = {
        startedAt, // request headers received
        at: Date.now(), // body complete
        method: req.method,
        url: req.url,
        headers: req.headers,
        timestamp: req.headers["x-rollcall-timestamp"],
        signature: req.headers["x-rollcall-signature"],
        raw,
        events: [],
        problem: null,
        status: null,
        answeredAt: null,
      };
      requests.push(record);
      const reply = (code, text = "") => {
        const send = () => {
          record.answeredAt = Date.now();
          if (senderGone || res.destroyed || req.socket.destroyed) {
            record.status = "gone"; // not accepted: the sender closed the connection first
          } else {
            record.status = code;
            res.writeHead(code, { "content-type": "text/plain" }).end(text);
          }
          check();
        };
        if (rx.delayMs > 0) setTimeout(send, rx.delayMs);
        else send();
      };
      if (req.method !== "POST" || req.url !== path) {
        record.problem = `unexpected ${req.method} ${req.url}`;
        reply(404, record.problem);
        return;
      }
      record.problem = verifyDelivery(secret, record.timestamp, record.signature, raw);
      if (record.problem) {
        reply(401, record.problem);
        return;
      }
      try {
        const body = JSON.parse(raw.toString("utf8"));
        if (!body || !Array.isArray(body.events)) throw new Error("no events array");
        record.events = body.events;
      } catch (err) {
        record.problem = `bad JSON body: ${err.message}`;
        reply(400, record.problem);
        return;
      }
      check();
      reply(answer);
    });
  }

  function listen(onPort) {
    return new Promise((resolve, reject) => {
      server = http.createServer(handle);
      server.keepAliveTimeout = 1000;
      server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
      });
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: onPort, exclusive: true }, () => {
        server.off("error", reject);
        port = server.address().port;
        isUp = true;
        resolve();
      });
    });
  }

  /** Stops listening and drops open connections: deliveries now fail with "connection refused". */
  async function down() {
    if (!isUp) return;
    isUp = false;
    const s = server;
    const closed = new Promise((resolve) => s.close(() => resolve()));
    for (const c of sockets) c.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async function up() {
    if (isUp) return;
    await listen(port);
  }

  await listen(0);
  return rx;
}

/**
 * Checks the delivery invariants over everything `rx` saw and returns the
 * de-duplicated accepted events. Throws (with the request log) when:
 *  - a request failed the signature/timestamp verification;
 *  - events within a request, or the accepted events overall, are not in
 *    increasing seq (outbox order);
 *  - after a failed request, the next one does not start with the same
 *    oldest event (nothing may skip ahead of a failing batch), unless that
 *    event is in `deadIds` (moved to the dead letter);
 *  - an event that was already accepted is sent again (unless
 *    `allowRedelivery`, for crash tests: at-least-once);
 *  - one id carries different contents in two requests.
 */
export function checkDeliveries(rx, { allowRedelivery = false, deadIds = new Set() } = {}) {
  const fail = (msg) => {
    throw new Error(`${msg}\nrequests:\n${rx.describe()}`);
  };
  const rejected = rx.rejected();
  if (rejected.length) fail(`${rejected.length} request(s) failed verification: ${rejected[0].problem}`);
  const byId = new Map();
  const acceptedIds = new Set();
  let lastSeq = -Infinity;
  let previous = null;
  const ok = (r) => r.status >= 200 && r.status < 300;
  for (const [i, r] of rx.requests.entries()) {
    if (r.events.length === 0) fail(`request #${i} carries no events`);
    for (let k = 1; k < r.events.length; k++) {
      if (!(r.events[k].seq > r.events[k - 1].seq)) fail(`request #${i}: events not in increasing seq`);
    }
    for (const e of r.events) {
      const prev = byId.get(e.id);
      if (prev && safeJson(prev) !== safeJson(e)) {
        fail(`event ${e.id} changed between deliveries: ${safeJson(prev)} vs ${safeJson(e)}`);
      }
      byId.set(e.id, e);
    }
    if (
      previous &&
      previous.status !== null &&
      !ok(previous) &&
      r.events[0].id !== previous.events[0].id &&
      !deadIds.has(previous.events[0].id)
    ) {
      fail(`request #${i} does not retry the failed batch first: starts with ${r.events[0].id}, not ${previous.events[0].id}`);
    }
    const again = r.events.filter((e) => acceptedIds.has(e.id));
    if (again.length && !allowRedelivery) {
      fail(`request #${i} re-sent events that were already accepted: ${again.map((e) => e.id).join(", ")}`);
    }
    if (ok(r)) {
      for (const e of r.events) {
        if (acceptedIds.has(e.id)) continue;
        if (!(e.seq > lastSeq)) fail(`request #${i}: seq ${e.seq} accepted after seq ${lastSeq} (not in outbox order)`);
        lastSeq = e.seq;
        acceptedIds.add(e.id);
      }
    }
    previous = r;
  }
  return rx.delivered();
}

/** Asserts that `events` of ONE user strictly alternate online/offline (starting with `first`) with growing seq. */
export function checkAlternating(events, { first = "user.online", user = "?" } = {}) {
  let expect = first;
  let lastSeq = -Infinity;
  for (const e of events) {
    if (e.type !== expect) {
      throw new Error(`${user}: expected ${expect}, got ${e.type} (seq ${e.seq}); events: ${safeJson(events.map((x) => [x.type, x.seq]))}`);
    }
    if (!(e.seq > lastSeq)) throw new Error(`${user}: seq ${e.seq} after ${lastSeq}`);
    lastSeq = e.seq;
    expect = expect === "user.online" ? "user.offline" : "user.online";
  }
}
