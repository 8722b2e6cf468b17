// Waiting primitives shared by the interop tests.
//
// Rule: nothing synchronises on a sleep. Every wait awaits an event, with a
// deadline so that a missing event fails the test with a message naming it.
// The only fixed waits are the explicit ones below (expectNoEvent, elapse),
// used to assert that something does NOT happen within a window, or that the
// server enforced a deadline of its own.

/** Default deadline for one awaited event (ms). */
export const WAIT_MS = 5000;

function listen(emitter, event, fn) {
  if (typeof emitter.on === "function") emitter.on(event, fn);
  else emitter.addEventListener(event, fn);
}

function unlisten(emitter, event, fn) {
  if (typeof emitter.off === "function") emitter.off(event, fn);
  else if (typeof emitter.removeListener === "function") emitter.removeListener(event, fn);
  else emitter.removeEventListener(event, fn);
}

/**
 * Resolves with the arguments array of the next `event` on `emitter`
 * (Node EventEmitter, socket.io-client emitter, or EventTarget).
 * Rejects after `ms`, or when one of `rejectOn` fires first.
 */
export function once(emitter, event, ms = WAIT_MS, { rejectOn = [] } = {}) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      cleanup();
      resolve(args);
    };
    const rejecters = rejectOn.map((name) => {
      const fn = (err) => {
        cleanup();
        const why = err instanceof Error ? err.message : String(err);
        reject(new Error(`"${name}" while waiting for "${event}": ${why}`));
      };
      listen(emitter, name, fn);
      return [name, fn];
    });
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    function cleanup() {
      clearTimeout(timer);
      unlisten(emitter, event, onEvent);
      for (const [name, fn] of rejecters) unlisten(emitter, name, fn);
    }
    listen(emitter, event, onEvent);
  });
}

/**
 * Explicit negative check: resolves after `ms` if `event` did not fire on
 * `emitter` during that window, rejects as soon as it does.
 */
export function expectNoEvent(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      clearTimeout(timer);
      unlisten(emitter, event, onEvent);
      reject(new Error(`unexpected "${event}" within ${ms} ms: ${safeJson(args)}`));
    };
    const timer = setTimeout(() => {
      unlisten(emitter, event, onEvent);
      resolve();
    }, ms);
    listen(emitter, event, onEvent);
  });
}

/** Races `promise` against a deadline; `what` names the awaited thing. */
export function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Repeats `probe()` until it returns a value accepted by `accept`, or fails
 * after `ms`. For server-side state that has no event of its own (counters).
 * Returns the accepted value.
 */
export async function pollUntil(probe, accept, { ms = WAIT_MS, interval = 50, what = "condition" } = {}) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (accept(last)) return last;
    if (Date.now() >= end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last value: ${safeJson(last)}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * A deliberate fixed wait, for the few checks that are about time itself:
 * "the server closed the session by its own deadline", "nothing arrived in
 * this window", "the recovery window has expired". Never use it to wait for
 * something that has an event.
 */
export function elapse(ms, _why) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function safeJson(value) {
  try {
    return JSON.stringify(value, (_k, v) => {
      if (v && v.type === "Buffer" && Array.isArray(v.data)) return `<Buffer ${v.data.length} bytes>`;
      if (typeof v === "function") return "<function>";
      if (typeof v === "string" && v.length > 200) return `${v.slice(0, 200)}...(${v.length} chars)`;
      return v;
    });
  } catch {
    return String(value);
  }
}

/** Deterministic pseudo-random bytes (tests must be reproducible). */
export function patternBytes(length, seed = 1) {
  const buf = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** A string of exactly `length` UTF-16 units mixing 1-, 2-, 3- and 4-byte UTF-8 characters. */
export function mixedText(length) {
  const unit = "ascii-é-€-😀|"; // 😀 is 2 UTF-16 units
  let s = unit.repeat(Math.ceil(length / unit.length) + 1).slice(0, length);
  // never cut a surrogate pair in half
  if (/[\uD800-\uDBFF]$/.test(s)) s = `${s.slice(0, -1)}x`;
  return s;
}

/** A TCP port free on 127.0.0.1 right now (for a server the test starts). */
export async function freePort() {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * Every `event` `emitter` emits, as argument arrays, in order;
 * `.waitFor(n)` resolves once n have arrived (deadline `ms`).
 */
export function recordEvents(emitter, event) {
  const got = [];
  emitter.on(event, (...args) => got.push(args));
  got.waitFor = (n, ms = WAIT_MS) =>
    pollUntil(() => got.length, (k) => k >= n, { ms, interval: 10, what: `${n} "${event}" events` });
  return got;
}
