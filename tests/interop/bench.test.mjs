// `rollcalld --bench`: the stable command line the benchmarks (ours and
// held-out comparisons) drive. The CONNECT auth token is the user id; every
// socket joins `user:<id>` and `all`; `bcast` (data) is emitted to `all` as
// `msg`; `echo` (data, ack) is acknowledged with its data; loopback only.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { runRollcalld } from "./lib/rollcalld.mjs";
import { ack, closeAll, connect, expectConnectError, once, startServer } from "./lib/server.mjs";

const ws = { transports: ["websocket"] };

describe("rollcalld --bench", () => {
  let server;
  before(async () => {
    server = await startServer({ bin: "rollcalld", args: ["--bench", "--threads", "2"] });
  });
  after(async () => {
    await closeAll();
    await server?.stop();
  });

  it("a CONNECT without auth.token is refused with a connect_error saying what to send", async () => {
    const err = await expectConnectError(server.url, ws);
    assert.match(err.message, /bench mode: send the user id as auth\.token/);
  });

  it("echo acknowledges with the same arguments, over WebSocket and over polling", async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const s = await connect(server.url, { transports, auth: { token: `echo-${transports[0]}` } });
      assert.deepEqual(await ack(s, "echo", { n: 1 }, "two"), [{ n: 1 }, "two"]);
    }
  });

  it("bcast reaches every socket (sender included) as msg, across both loops", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 6 }, (_, i) => connect(server.url, { ...ws, auth: { token: `u${i}` } })),
    );
    const got = sockets.map((s) => once(s, "msg"));
    sockets[0].emit("bcast", { hello: "all" });
    for (const args of await Promise.all(got)) assert.deepEqual(args, [{ hello: "all" }]);
  });
});

describe("rollcalld --bench outside loopback", () => {
  it("is refused at start with a message naming the rule", async () => {
    const { code, stderr } = await runRollcalld(["--bench", "--listen", "0.0.0.0:0"]);
    assert.notEqual(code, 0);
    assert.match(stderr, /--bench .* refused unless --listen is a loopback address/);
  });
});
