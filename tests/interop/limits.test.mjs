// The server at its open-file limit: accepting backs off with a warning
// instead of spinning, nothing crashes, and service resumes by itself.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";

import { ack, closeAll, connect, pollUntil, startServer } from "./lib/server.mjs";

const NOFILE = 64;

/** A TCP connection that sends half an HTTP request header: the server keeps it open, waiting. */
function halfRequest(server) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: "127.0.0.1", port: server.port });
    sock.once("connect", () => {
      sock.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      resolve(sock);
    });
    sock.once("error", reject);
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

  it("accept backs off with a clear warning, and clients connect again once descriptors are free", async () => {
    const used = fs.readdirSync(`/proc/${server.proc.pid}/fd`).length;
    assert.ok(used < NOFILE - 8, `the server already uses ${used} descriptors`);
    // Enough half-open requests to use every free descriptor, and some more
    // that wait in the listen backlog.
    for (let i = 0; i < NOFILE - used + 8; i++) holders.push(await halfRequest(server));
    await pollUntil(
      () => server.output().stderr,
      (err) => /accept failed: Too many open files; retrying in 100 ms/.test(err),
      { what: "the accept warning on stderr" },
    );
    assert.equal(server.alive(), true);

    for (const h of holders.splice(0)) h.destroy();
    const socket = await connect(server.url, { transports: ["websocket"] });
    assert.deepEqual(await ack(socket, "echo", "after"), ["after"]);
    const { stderr } = server.output();
    assert.match(stderr, /accepting connections again/);
    assert.equal(stderr.match(/accept failed/g).length, 1, "one warning per episode, not one per retry");
  });
});
