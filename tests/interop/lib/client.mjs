// socket.io-client helpers.
//
// Every socket made here records all incoming events from the moment it is
// created (socket.log, an EventLog), so an event that arrives in the same
// tick as "connect" (e.g. "welcome" in one polling payload) is never missed.
// Every socket, Manager and raw WebSocket is tracked; call closeAll() in
// afterEach so no handle keeps the test process alive.

import { io, Manager, NodeWebSocket, NodeXHR } from "socket.io-client";

import { WAIT_MS, deferred, once, safeJson } from "./util.mjs";

export { io, Manager, NodeWebSocket, NodeXHR };

/** Deadline for a socket.io connection (engine handshake + namespace CONNECT). */
export const CONNECT_MS = 10000;

const tracked = new Set();

/** Registers something to close in closeAll(): a Socket, a Manager, a ws WebSocket, or { close() }. */
export function track(thing) {
  tracked.add(thing);
  return thing;
}

/** Closes every tracked socket/manager/websocket. Safe to call repeatedly. */
export async function closeAll() {
  const things = [...tracked];
  tracked.clear();
  for (const t of things) {
    try {
      if (t instanceof Manager) {
        t.reconnection(false);
        for (const s of Object.values(t.nsps)) s.disconnect();
        t.engine?.close();
      } else if (t && t.io instanceof Manager) {
        t.io.reconnection(false);
        t.disconnect();
        t.io.engine?.close();
      } else if (t && typeof t.terminate === "function") {
        t.terminate();
      } else if (t && typeof t.close === "function") {
        await t.close();
      }
    } catch {
      // best effort: the thing may already be closed
    }
  }
}

/**
 * Records the events a socket receives (via onAny), in arrival order.
 * take() consumes the first matching recorded event, or waits for one.
 */
export class EventLog {
  constructor(socket) {
    this.socket = socket;
    this.events = []; // { event, args }
    this.waiters = []; // { event, filter, resolve }
    socket.onAny((event, ...args) => this.#push(event, args));
  }

  #push(event, args) {
    const i = this.waiters.findIndex((w) => w.event === event && (!w.filter || w.filter(args)));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w.resolve(args);
    } else {
      this.events.push({ event, args });
    }
  }

  /** Args of the first unconsumed `event` (optionally matching `filter(args)`), waiting up to `ms`. */
  take(event, ms = WAIT_MS, filter = null) {
    const i = this.events.findIndex((e) => e.event === event && (!filter || filter(e.args)));
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0].args);
    return new Promise((resolve, reject) => {
      const waiter = {
        event,
        filter,
        resolve: (args) => {
          clearTimeout(timer);
          resolve(args);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const seen = this.events.map((e) => e.event);
        reject(new Error(`timed out after ${ms} ms waiting for event "${event}"; unconsumed events: ${safeJson(seen)}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Args of the next `n` `event`s, in order. One deadline for all of them. */
  async takeN(event, n, ms = WAIT_MS) {
    const end = Date.now() + ms;
    const out = [];
    for (let i = 0; i < n; i++) {
      try {
        out.push(await this.take(event, Math.max(1, end - Date.now())));
      } catch (err) {
        throw new Error(`got ${i} of ${n} "${event}" events: ${err.message}`);
      }
    }
    return out;
  }

  /** Number of recorded, unconsumed `event`s. */
  count(event) {
    return this.events.filter((e) => e.event === event).length;
  }

  /** Names of all recorded, unconsumed events, in order. */
  names() {
    return this.events.map((e) => e.event);
  }
}

/**
 * Creates a tracked socket.io-client socket with an EventLog (socket.log).
 * Defaults: forceNew (own Manager / engine session), no reconnection.
 */
export function makeSocket(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, timeout: CONNECT_MS, ...opts });
  socket.log = new EventLog(socket);
  return track(socket);
}

/** Resolves on "connect"; rejects on the first "connect_error" or after `ms`. */
export function waitConnected(socket, ms = CONNECT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      const e = new Error(`connect_error: ${err?.message}`);
      e.cause = err;
      e.data = err?.data;
      reject(e);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "connect" within ${ms} ms (nsp ${socket.nsp})`));
    }, ms);
    function cleanup() {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** makeSocket + waitConnected. The socket is closed again if the connection fails. */
export async function connect(url, opts = {}, ms = CONNECT_MS) {
  const socket = makeSocket(url, opts);
  try {
    await waitConnected(socket, ms);
  } catch (err) {
    socket.disconnect();
    throw err;
  }
  return socket;
}

/** Connects and expects a "connect_error"; resolves with that error (message, data). */
export async function expectConnectError(url, opts = {}, ms = CONNECT_MS) {
  const socket = makeSocket(url, opts);
  try {
    const [err] = await once(socket, "connect_error", ms, { rejectOn: ["connect"] });
    return err;
  } finally {
    socket.disconnect();
  }
}

/**
 * Emits `event` with `args` and an acknowledgement callback; resolves with ALL
 * the arguments the server acknowledged with (emitWithAck keeps only the first).
 */
export function ack(socket, event, ...args) {
  return ackWithin(socket, WAIT_MS, event, ...args);
}

export function ackWithin(socket, ms, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(event, ...args, (err, ...response) => {
      if (err) reject(new Error(`no ack for "${event}" within ${ms} ms: ${err.message}`));
      else resolve(response);
    });
  });
}

/** The first payload of "welcome" (recorded since the socket was created). */
export async function welcome(socket, ms = WAIT_MS) {
  const [data] = await socket.log.take("welcome", ms);
  return data;
}

/** Joins `room` via the "join" handler; resolves with the sorted room list. */
export async function join(socket, room) {
  const [rooms] = await ack(socket, "join", room);
  return rooms;
}

export async function leave(socket, room) {
  const [rooms] = await ack(socket, "leave", room);
  return rooms;
}

/** Number of sockets connected to "/" according to the server ("stats" handler). */
export async function socketCount(socket) {
  const [stats] = await ack(socket, "stats");
  return stats.sockets;
}

/**
 * A socket in "/" that joined room "observers": it receives "disconnected"
 * {id, nsp, reason} for every socket disconnect on the server.
 * observer.reasonFor(id) waits for the record of that socket id.
 */
export async function observe(url, opts = {}) {
  const socket = await connect(url, { transports: ["websocket"], ...opts });
  await join(socket, "observers");
  return {
    socket,
    async reasonFor(id, ms = WAIT_MS, nsp = null) {
      const [info] = await socket.log.take(
        "disconnected",
        ms,
        ([d]) => d && d.id === id && (nsp === null || d.nsp === nsp),
      );
      return info;
    },
  };
}

/**
 * Wraps an engine.io-client transport class (NodeXHR, NodeWebSocket) so that
 * a test decides when new connections of that transport may open:
 *   const gate = transportGate(NodeWebSocket, { closed: true });
 *   makeSocket(url, { transports: [NodeXHR, gate.Transport] });
 *   ... traffic over polling ...; gate.open();   // now the upgrade may start
 * close() holds the next connections again (e.g. a reconnection attempt).
 */
export function transportGate(Base, { closed = false } = {}) {
  let held = null;
  const gate = {
    close() {
      if (!held) held = deferred();
    },
    open() {
      held?.resolve();
      held = null;
    },
  };
  class GatedTransport extends Base {
    doOpen() {
      if (!held) {
        super.doOpen();
        return;
      }
      held.promise.then(() => {
        if (this.readyState === "opening") super.doOpen();
      });
    }
  }
  gate.Transport = GatedTransport;
  if (closed) gate.close();
  return gate;
}

/** A WebSocket transport held until gate.open(): see transportGate. */
export function gatedWebSocket() {
  return transportGate(NodeWebSocket, { closed: true });
}
