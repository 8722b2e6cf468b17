// 500 concurrent socket.io-client sockets against a --threads 2 server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  ack,
  closeAll,
  connect,
  makeSocket,
  pollUntil,
  socketCount,
  startServer,
  waitConnected,
  welcome,
  withDeadline,
} from "./lib/server.mjs";

const N = 500;

describe(`${N} concurrent websocket clients (--threads 2)`, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--threads", "2", "--recovery-ms", "0"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it(`${N} sockets connect, are welcomed, echo, are counted, and are gone after disconnecting`, async () => {
    const sockets = Array.from({ length: N }, () => makeSocket(server.url, { transports: ["websocket"] }));
    await withDeadline(Promise.all(sockets.map((s) => waitConnected(s, 30000))), 35000, `${N} connections`);

    const welcomes = await withDeadline(Promise.all(sockets.map((s) => welcome(s, 20000))), 25000, `${N} welcomes`);
    welcomes.forEach((w, i) => assert.equal(w.id, sockets[i].id));
    assert.equal(new Set(sockets.map((s) => s.id)).size, N, "socket ids must be unique");

    const echoes = await withDeadline(
      Promise.all(sockets.map((s, i) => ack(s, "echo", i, s.id))),
      25000,
      `${N} echo acks`,
    );
    echoes.forEach((args, i) => assert.deepEqual(args, [i, sockets[i].id]));

    assert.equal(await socketCount(sockets[0]), N);

    for (const s of sockets) s.disconnect();
    // a new probe socket is itself counted: 1 means all N are gone
    const probe = await connect(server.url, { transports: ["websocket"] });
    await pollUntil(
      () => socketCount(probe),
      (n) => n === 1,
      { ms: 15000, interval: 100, what: "the server to count only the probe socket" },
    );
  });
});
