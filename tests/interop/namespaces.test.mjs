// Namespaces: middleware rejection, dynamic namespaces, unknown namespaces,
// multiplexing several namespaces over one Engine.IO session.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  Manager,
  ack,
  closeAll,
  connect,
  expectConnectError,
  once,
  pollUntil,
  startServer,
  track,
  waitConnected,
  welcome,
  EventLog,
} from "./lib/server.mjs";

describe("namespaces", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "0"] });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  /** A tracked Manager (one engine session) for multiplexing tests. */
  function manager(opts = {}) {
    return track(new Manager(server.url, { reconnection: false, timeout: 10000, ...opts }));
  }
  function nspSocket(mgr, nsp, opts = {}) {
    const socket = mgr.socket(nsp, opts);
    socket.log = new EventLog(socket);
    return socket;
  }

  it('/admin without a token is rejected: connect_error "unauthorized" with data {code: 401}', async () => {
    const err = await expectConnectError(`${server.url}/admin`, { transports: ["websocket"] });
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { code: 401 });
  });

  it("/admin with a wrong token is rejected the same way", async () => {
    const err = await expectConnectError(`${server.url}/admin`, { auth: { token: "guess" } });
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { code: 401 });
  });

  it('/admin with token "secret" is accepted, welcomed with nsp "/admin" and echoes', async () => {
    const auth = { token: "secret" };
    const socket = await connect(`${server.url}/admin`, { auth });
    assert.deepEqual(await welcome(socket), { id: socket.id, recovered: false, auth, nsp: "/admin" });
    assert.deepEqual(await ack(socket, "echo", "admin", 1), ["admin", 1]);
    socket.emit("echo", "event");
    assert.deepEqual(await socket.log.take("echo"), ["event"]);
  });

  it("/async: middlewares answering later, from another thread and through the socket's executor, accept and refuse", async () => {
    const err = await expectConnectError(`${server.url}/async`, { auth: { token: "guess" } });
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { code: 401 });
    for (const transports of [["websocket"], ["polling"]]) {
      const auth = { token: "secret" };
      const socket = await connect(`${server.url}/async`, { auth, transports });
      assert.deepEqual(await welcome(socket), { id: socket.id, recovered: false, auth, nsp: "/async" });
      assert.deepEqual(await ack(socket, "echo", "async", 1), ["async", 1]);
    }
  });

  it("a socket observer (observe_sockets) sees the sockets of every namespace come and go", async () => {
    const root = await connect(server.url, { transports: ["websocket"] });
    const observed = async () => (await ack(root, "stats"))[0].observed;
    // Only this test's sockets once the earlier tests' ones are gone.
    const before = await pollUntil(observed, (n) => n === 1, { what: "only this socket" });
    const admin = await connect(`${server.url}/admin`, { auth: { token: "secret" }, transports: ["websocket"] });
    const dyn = await connect(`${server.url}/dyn-observed`, { transports: ["polling"] });
    await pollUntil(observed, (n) => n === before + 2, { what: "two more observed sockets" });
    admin.disconnect();
    dyn.disconnect();
    await pollUntil(observed, (n) => n === before, { what: "both gone" });
  });

  it("the dynamic namespace /dyn-abc is accepted and welcomed with its own name", async () => {
    const socket = await connect(`${server.url}/dyn-abc`, { transports: ["websocket"] });
    assert.deepEqual(await welcome(socket), { id: socket.id, recovered: false, auth: {}, nsp: "/dyn-abc" });
  });

  it('names outside /^\\/dyn-[a-z0-9]+$/ and other unknown namespaces get "Invalid namespace"', async () => {
    for (const nsp of ["/nope", "/dyn-", "/dyn-ABC", "/dyn-a/b", "/admin2"]) {
      const err = await expectConnectError(`${server.url}${nsp}`, { transports: ["websocket"] });
      assert.equal(err.message, "Invalid namespace", `namespace ${nsp}`);
    }
  });

  it("/ and /admin multiplexed over one Manager share one Engine.IO session", async () => {
    const mgr = manager({ transports: ["websocket"] });
    const root = nspSocket(mgr, "/");
    const admin = nspSocket(mgr, "/admin", { auth: { token: "secret" } });
    await Promise.all([waitConnected(root), waitConnected(admin)]);
    assert.equal(root.io, admin.io);
    assert.equal(typeof mgr.engine.id, "string");
    assert.notEqual(root.id, admin.id);
    assert.equal((await welcome(root)).nsp, "/");
    assert.equal((await welcome(admin)).nsp, "/admin");

    // each namespace's traffic goes to its own socket
    admin.emit("echo", "for-admin");
    root.emit("echo", "for-root");
    assert.deepEqual(await admin.log.take("echo"), ["for-admin"]);
    assert.deepEqual(await root.log.take("echo"), ["for-root"]);
    assert.equal(root.log.count("echo"), 0);
    assert.equal(admin.log.count("echo"), 0);
  });

  it("leaving one multiplexed namespace keeps the other and the engine session", async () => {
    const mgr = manager({ transports: ["websocket"] });
    const root = nspSocket(mgr, "/");
    const admin = nspSocket(mgr, "/admin", { auth: { token: "secret" } });
    await Promise.all([waitConnected(root), waitConnected(admin)]);
    const engineId = mgr.engine.id;
    const disconnected = once(admin, "disconnect");
    admin.disconnect();
    const [reason] = await disconnected;
    assert.equal(reason, "io client disconnect");
    assert.deepEqual(await ack(root, "echo", "still"), ["still"]);
    assert.equal(mgr.engine.id, engineId);
    assert.equal(root.connected, true);
  });

  it("a rejected namespace on a shared Manager does not break the other namespaces", async () => {
    const mgr = manager({ transports: ["polling"] });
    const root = nspSocket(mgr, "/");
    await waitConnected(root);
    const bad = nspSocket(mgr, "/nope");
    const [err] = await once(bad, "connect_error");
    assert.equal(err.message, "Invalid namespace");
    const noAuth = nspSocket(mgr, "/admin");
    const [err2] = await once(noAuth, "connect_error");
    assert.equal(err2.message, "unauthorized");
    assert.deepEqual(await ack(root, "echo", "fine"), ["fine"]);
    assert.equal(root.connected, true);
  });
});
