// The server at its open-file limit: new connections are closed at once
// (clients fail fast and retry) with one warning, accepting backs off
// instead of spinning, nothing crashes, and service resumes by itself.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";

import { ack, closeAll, connect, pollUntil, startServer } from "./lib/server.mjs";

const NOFILE = 64;

/**
 * A TCP connection that sends half an HTTP request header: the server keeps
 * it open, waiting. `closed` counts the ones the server closed.
 */
function halfRequest(server, closed) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: "127.0.0.1", port: server.port });
    sock.once("connect", () => {
      sock.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      resolve(sock);
    });
    sock.once("error", reject);
    sock.on("close", () => {
      if (!sock.destroyedByTest) closed.count++;
    });
  });
}

describe(`descriptor exhaustion (server limited to ${NOFILE} open files)`, () => {
  let server;
  const holders = [];
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "0"], nofile: NOFILE });
  });
  after(async () => {
    for (const h of holders) h.destroy();
    await closeAll();
    await server?.stop();
  });

  it("out of descriptors, new connections are closed at once with one warning; clients connect again later", async () => {
    const fds = () => fs.readdirSync(`/proc/${server.proc.pid}/fd`).length;
    const used = fds();
    assert.ok(used < NOFILE - 8, `the server already uses ${used} descriptors`);
    // More half-open requests than the server has descriptors left: the
    // extra ones are accepted and closed at once, not left in the backlog.
    const extra = 8;
    const closed = { count: 0 };
    for (let i = 0; i < NOFILE - used + extra; i++) holders.push(await halfRequest(server, closed));
    // (A descriptor or two more may be in use by the time the limit is hit.)
    await pollUntil(() => closed.count, (n) => n >= extra - 2, { what: `${extra - 2} connections closed by the server` });
    assert.match(server.output().stderr, /accept failed: Too many open files; closing new connections at once/);
    assert.equal(server.alive(), true);

    for (const h of holders.splice(0)) {
      h.destroyedByTest = true;
      h.destroy();
    }
    // Until the server has seen those go, a new connection would be closed too.
    await pollUntil(fds, (n) => n <= used, { what: `the server back to ${used} descriptors` });
    const socket = await connect(server.url, { transports: ["websocket"] });
    assert.deepEqual(await ack(socket, "echo", "after"), ["after"]);
    const { stderr } = server.output();
    assert.match(stderr, /accepting connections again \(\d+ closed unanswered meanwhile\)/);
    assert.equal(stderr.match(/accept failed/g).length, 1, "one warning per episode, not one per retry");
  });
});
