// rollcalld with express-session cookies stored by connect-redis, against a
// real Redis on 127.0.0.1:$REDIS_PORT (scripts/services.sh start). Without
// REDIS_PORT, or when Redis does not answer, the tests FAIL (never skip).
import assert from "node:assert/strict";
import net from "node:net";
import { after, afterEach, before, describe, it } from "node:test";

import {
  api,
  connectUser,
  presenceConfig,
  startRollcalld,
  tokenFor,
  waitPresence,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { redisCommand, requireRedis, requireRedisPort } from "./lib/resp.mjs";
import { closeAll, connect, elapse, expectConnectError } from "./lib/server.mjs";
import { deleteSession, newSid, sessionCookie, storeSession } from "./lib/session.mjs";
import { startReceiver } from "./lib/webhook-receiver.mjs";

const SESSION_SECRET = "keyboard cat of the interop tests";
const OLD_SECRET = "the previous session secret";
const GRACE_MS = 300;
const EVENT_MS = 5000;
const ws = { transports: ["websocket"] };

/** A TCP port on 127.0.0.1 with nothing listening on it (bound, then released). */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function refused(url, opts) {
  const err = await expectConnectError(url, { ...ws, ...opts });
  return { message: err.message, data: err.data };
}

// A failure of its own (not only a failed hook), so the summary counts it.
it("a Redis answers on 127.0.0.1:$REDIS_PORT (REDIS_PORT=16379 bash scripts/services.sh start)", async () => {
  await requireRedis(requireRedisPort());
});

describe("rollcalld express-session cookies (Redis)", () => {
  let redisPort;
  let rx;
  let rc;
  const sids = [];

  before(async () => {
    redisPort = requireRedisPort(); // throws: the suite fails with the reason
    await requireRedis(redisPort);
    rx = await startReceiver({ secret: WEBHOOK_SECRET });
    rc = await startRollcalld({
      config: presenceConfig({
        receiver: rx,
        graceMs: GRACE_MS,
        overrides: {
          auth: {
            session_secret: [SESSION_SECRET, OLD_SECRET],
            session_redis_url: `redis://127.0.0.1:${redisPort}/0`,
            session_user_field: "userId",
          },
        },
      }),
    });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await rc?.stop();
    await rx?.close();
    rc?.cleanup();
    if (redisPort) for (const sid of sids) await deleteSession(redisPort, sid).catch(() => {});
  });

  async function session(fields, opts) {
    const sid = newSid();
    sids.push(sid);
    await storeSession(redisPort, sid, fields, opts);
    return sid;
  }

  it("Redis answers and the session helper round-trips (SET/GET over RESP)", async () => {
    const sid = await session({ userId: "roundtrip" });
    const raw = await redisCommand(redisPort, ["GET", `sess:${sid}`]);
    assert.deepEqual(JSON.parse(raw), {
      cookie: { originalMaxAge: null, httpOnly: true, path: "/" },
      userId: "roundtrip",
    });
  });

  it("a valid signed cookie with its session in Redis connects, and the session's userId goes online", async () => {
    for (const transport of ["websocket", "polling"]) {
      const user = `sess-user-${transport}`;
      const sid = await session({ userId: user, other: { stuff: [1, 2] } });
      const s = await connect(rc.url, { transports: [transport], extraHeaders: { cookie: sessionCookie(sid, SESSION_SECRET) } });
      assert.equal(s.connected, true);
      await rx.waitFor(() => rx.delivered(user).length >= 1, EVENT_MS, `user.online of ${user}`);
      const [e] = rx.delivered(user);
      assert.equal(e.type, "user.online");
      const p = (await api(rc, `/v1/presence/users/${user}`)).json;
      assert.equal(p.online, true);
      assert.equal(p.details[0].socket, s.id);
      assert.equal(p.details[0].transport, transport);
    }
  });

  it("the cookie is found among other cookies, and a cookie signed with the previous secret still verifies", async () => {
    const sid = await session({ userId: "sess-among" });
    const cookie = `theme=dark; ${sessionCookie(sid, SESSION_SECRET)}; lang=en`;
    await connect(rc.url, { ...ws, extraHeaders: { cookie } });
    const old = await session({ userId: "sess-rotated" });
    await connect(rc.url, { ...ws, extraHeaders: { cookie: sessionCookie(old, OLD_SECRET) } });
    await rx.waitFor(
      () => rx.delivered("sess-among").length >= 1 && rx.delivered("sess-rotated").length >= 1,
      EVENT_MS,
      "both users online",
    );
  });

  it("a bad cookie signature: connect_error invalid_session, and nothing is recorded", async () => {
    const sid = await session({ userId: "sess-forged" });
    const cases = {
      "another secret": sessionCookie(sid, "not the secret at all"),
      "signature of another sid": `connect.sid=${encodeURIComponent(`s:${sid}.${sessionCookie(newSid(), SESSION_SECRET).split(".").pop()}`)}`,
      "unsigned (no s: prefix)": `connect.sid=${encodeURIComponent(sid)}`,
      "signature cut off": `connect.sid=${encodeURIComponent(`s:${sid}.`)}`,
    };
    for (const [what, cookie] of Object.entries(cases)) {
      const { message, data } = await refused(rc.url, { extraHeaders: { cookie } });
      assert.deepEqual(data, { code: "invalid_session" }, `${what}: ${message}`);
      assert.match(message, /^authentication failed: invalid session cookie signature/, what);
    }
    assert.deepEqual((await api(rc, "/v1/presence/users/sess-forged")).json, {
      user: "sess-forged",
      online: false,
      connections: 0,
    });
  });

  it("a session missing in Redis, or without userId: connect_error invalid_session", async () => {
    const missing = newSid();
    const { message, data } = await refused(rc.url, { extraHeaders: { cookie: sessionCookie(missing, SESSION_SECRET) } });
    assert.deepEqual(data, { code: "invalid_session" });
    assert.match(message, /^authentication failed: session not found or expired/);

    const noUser = await session({ somethingElse: "x" });
    const r2 = await refused(rc.url, { extraHeaders: { cookie: sessionCookie(noUser, SESSION_SECRET) } });
    assert.deepEqual(r2.data, { code: "invalid_session" }, r2.message);

    const deleted = await session({ userId: "sess-deleted" });
    await deleteSession(redisPort, deleted);
    const r3 = await refused(rc.url, { extraHeaders: { cookie: sessionCookie(deleted, SESSION_SECRET) } });
    assert.deepEqual(r3.data, { code: "invalid_session" }, r3.message);
    await elapse(GRACE_MS, "no event for refused sessions");
    assert.equal(rx.delivered("sess-deleted").length, 0);
  });

  it("without a cookie (and without a token): auth_required; a JWT still works next to sessions", async () => {
    const { data } = await refused(rc.url, {});
    assert.deepEqual(data, { code: "auth_required" });
    const s = await connectUser(rc.url, tokenFor("sess-jwt-user"));
    assert.equal(s.connected, true);
  });

  describe("custom cookie name, prefix and a dotted user field", () => {
    let srv;
    before(async () => {
      srv = await startRollcalld({
        config: presenceConfig({
          graceMs: GRACE_MS,
          overrides: {
            auth: {
              jwt_secret: undefined,
              session_secret: SESSION_SECRET,
              session_redis_url: `redis://127.0.0.1:${redisPort}/0`,
              session_cookie: "app.sid",
              session_prefix: "myapp:sess:",
              session_user_field: "passport.user",
            },
          },
        }),
      });
    });
    after(async () => {
      await closeAll();
      await srv?.stop();
      srv?.cleanup();
    });

    it("passport.user is the user id; the default cookie name is not read", async () => {
      const sid = await session({ passport: { user: "sess-passport" } }, { prefix: "myapp:sess:" });
      sids.push(sid);
      await connect(srv.url, { ...ws, extraHeaders: { cookie: sessionCookie(sid, SESSION_SECRET, { name: "app.sid" }) } });
      await waitPresence(srv, "sess-passport");
      const { data } = await refused(srv.url, { extraHeaders: { cookie: sessionCookie(sid, SESSION_SECRET) } });
      assert.deepEqual(data, { code: "auth_required" });
      await redisCommand(redisPort, ["DEL", `myapp:sess:${sid}`]);
    });
  });

  describe("Redis unreachable", () => {
    let down;
    before(async () => {
      const port = await closedPort();
      down = await startRollcalld({
        config: presenceConfig({
          graceMs: GRACE_MS,
          overrides: {
            auth: { session_secret: SESSION_SECRET, session_redis_url: `redis://127.0.0.1:${port}/0` },
          },
        }),
      });
    });
    after(async () => {
      await closeAll();
      await down?.stop(); // rejects if the server died meanwhile
      down?.cleanup();
    });

    it('connect_error "session store unavailable" (session_store_unavailable); the server stays up', async () => {
      const sid = await session({ userId: "sess-unreachable" });
      for (let i = 0; i < 3; i++) {
        const { message, data } = await refused(down.url, { extraHeaders: { cookie: sessionCookie(sid, SESSION_SECRET) } });
        assert.equal(message, "authentication failed: session store unavailable");
        assert.deepEqual(data, { code: "session_store_unavailable" });
      }
      assert.equal(down.alive(), true, "rollcalld exited");
      assert.equal((await api(down, "/healthz", { key: null })).status, 200);
      const s = await connectUser(down.url, tokenFor("sess-jwt-while-redis-down"));
      assert.equal(s.connected, true);
      assert.equal((await api(down, "/v1/presence/users/sess-unreachable")).json.online, false);
    });
  });
});
