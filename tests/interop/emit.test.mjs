// POST /v1/emit (docs/api.md): a backend that is not Node broadcasts
// through rollcalld's HTTP API. On one node here; across nodes and Node
// peers in cluster-adapter.test.mjs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { connectUser, postEmit, presenceConfig, startRollcalld, tokenFor } from "./lib/rollcalld.mjs";
import { ackWithin, closeAll, expectNoEvent, once, WAIT_MS } from "./lib/server.mjs";

describe("POST /v1/emit on one node", () => {
  let rc;
  before(async () => {
    rc = await startRollcalld({ config: presenceConfig({ overrides: { rooms: { client_join: ["team-*"] } } }) });
  });
  after(async () => {
    await closeAll();
    await rc?.stop();
    rc?.cleanup();
  });

  async function member(user, rooms) {
    const s = await connectUser(rc.url, tokenFor(user));
    for (const room of rooms) {
      const [res] = await ackWithin(s, WAIT_MS, "room:join", room);
      assert.equal(res.ok, true, JSON.stringify(res));
    }
    return s;
  }

  it("reaches the sockets of the rooms, minus those of `except`, with the data as the event's arguments", async () => {
    const red = await member("em-1", ["team-red"]);
    const both = await member("em-2", ["team-red", "team-blue"]);
    const blue = await member("em-3", ["team-blue"]);
    const got = once(red, "news");
    const res = await postEmit(rc, { rooms: ["team-red"], except: ["team-blue"], event: "news", data: [{ a: 1 }, "two"] });
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, { ok: true });
    assert.deepEqual(await got, [{ a: 1 }, "two"]);
    await Promise.all([expectNoEvent(both, "news", 300), expectNoEvent(blue, "news", 300)]);
  });

  it("without rooms reaches the whole namespace; nsp defaults to '/' and data to no arguments", async () => {
    const s = await member("em-4", []);
    const got = once(s, "ping-all");
    const res = await postEmit(rc, { event: "ping-all" });
    assert.equal(res.status, 202);
    assert.deepEqual(await got, []);
  });

  it("refuses bad fields with 400 naming the field", async () => {
    const cases = [
      ["not json", "not JSON"],
      [[1, 2], "JSON object"],
      [{ data: [] }, "event"],
      [{ event: "" }, "event"],
      [{ event: 5 }, "event"],
      [{ event: "disconnect" }, "event: 'disconnect' is reserved"],
      [{ event: "x", data: { a: 1 } }, "data"],
      [{ event: "x", rooms: "team-red" }, "rooms"],
      [{ event: "x", rooms: [1] }, "rooms"],
      [{ event: "x", except: [""] }, "except"],
      [{ event: "x", nsp: "admin" }, "nsp"],
      [{ event: "x", nsp: "/nowhere" }, "nsp: no namespace '/nowhere'"],
      [{ event: "x", room: ["a"] }, "unknown field 'room'"],
    ];
    for (const [body, field] of cases) {
      const res = await postEmit(rc, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(res.json?.error?.includes(field), `${JSON.stringify(body)}: ${JSON.stringify(res.json)} should name ${field}`);
    }
  });

  it("needs the API key and POST", async () => {
    assert.equal((await postEmit(rc, { event: "x" }, { key: null })).status, 401);
    assert.equal((await postEmit(rc, { event: "x" }, { key: "wrong" })).status, 401);
    const get = await postEmit(rc, null, { method: "GET" });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
  });
});
