// Graceful shutdown: SIGTERM closes every session so that clients notice at
// once (and reconnect elsewhere), and the process exits within its drain.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { closeAll, connect, once, startServer, withDeadline } from "./lib/server.mjs";

describe("SIGTERM", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--recovery-ms", "0"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it('websocket clients get "transport close", polling clients are disconnected, the server exits within 5 s', async () => {
    const wsClient = await connect(server.url, { transports: ["websocket"], reconnection: false });
    const pollClient = await connect(server.url, { transports: ["polling"], reconnection: false });
    const wsGone = once(wsClient, "disconnect");
    const pollGone = once(pollClient, "disconnect");
    await withDeadline(server.stop(), 5000, "the server to exit after SIGTERM");
    assert.equal((await wsGone)[0], "transport close");
    // The close packet if a poll was waiting; otherwise the next poll finds
    // the server gone (as with Node's io.close()).
    assert.ok(["transport close", "transport error"].includes((await pollGone)[0]));
  });
});
