// A node whose event loop is busy for longer than its lease keeps its
// lease (docs/cluster.md, "Leases"): renewals come from the presence
// thread, which socket work cannot delay, so the node is neither reaped
// nor fenced and its clients stay connected.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

import { clusterKeys, dropKeys, liveNodeKeys } from "./lib/cluster.mjs";
import { ack, closeAll, connect, pollUntil, startServer } from "./lib/server.mjs";

const LEASE_MS = 1000;

describe("cluster lease under a busy loop", () => {
  const cleanups = [];
  after(async () => {
    await closeAll();
    while (cleanups.length) await cleanups.pop()();
  });

  it(`a loop stalled for 3 x the lease (${LEASE_MS} ms) does not fence its node`, async () => {
    const cl = await clusterKeys("busy");
    cl.prefix = `rollcall-interop:${cl.adapterKey}`; // the interop server's prefix
    cleanups.push(() => dropKeys(cl));
    const node = await startServer({
      args: ["--threads", "1", "--redis", cl.redisUrl, "--adapter-key", cl.adapterKey, "--node-id", "busy",
        "--lease-ms", String(LEASE_MS), "--recovery-ms", "0"],
    });
    cleanups.push(() => node.stop());
    const [key] = await pollUntil(() => liveNodeKeys(cl), (k) => k.length === 1, { what: "the node registered" });
    const socket = await connect(node.url, { transports: ["websocket"] });
    // The only loop sleeps for 3 s; renewals must go on meanwhile.
    await ack(socket, "stall", 3 * LEASE_MS);
    assert.equal(socket.connected, true, "fencing would have closed the client");
    assert.deepEqual(await liveNodeKeys(cl), [key], "same node key: never reaped");
    const [echo] = await ack(socket, "echo", "still here");
    assert.equal(echo, "still here");
  });
});
