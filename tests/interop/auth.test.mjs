// rollcalld identity at the handshake (docs/presence.md "Who is the user"):
// JWT HS256/RS256 in the CONNECT auth payload or an Authorization header,
// the connect_error messages and codes, nothing recorded for a refused
// socket, the rooms that follow from the identity and rooms.client_join.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";

import { nowS, rsaKeyPair, signHS256, signRS256, unsignedToken } from "./lib/jwt.mjs";
import {
  api,
  closeSocket,
  connectUser,
  JWT_SECRET,
  presenceConfig,
  startRollcalld,
  tempDir,
  tokenFor,
  waitPresence,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { ackWithin, closeAll, connect, elapse, expectConnectError } from "./lib/server.mjs";
import { startReceiver } from "./lib/webhook-receiver.mjs";

const GRACE_MS = 300;
const EVENT_MS = 5000;
const ws = { transports: ["websocket"] };

/** Expects a connect_error; returns { message, data }. */
async function refused(url, opts) {
  const err = await expectConnectError(url, { ...ws, ...opts });
  assert.ok(err instanceof Error, `connect_error is not an Error: ${err}`);
  return { message: err.message, data: err.data };
}

describe("rollcalld authentication", () => {
  let rx;
  let rc;
  before(async () => {
    rx = await startReceiver({ secret: WEBHOOK_SECRET });
    rc = await startRollcalld({
      config: presenceConfig({ receiver: rx, graceMs: GRACE_MS, overrides: { rooms: { client_join: ["chat:*"] } } }),
    });
  });
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await rc?.stop();
    await rx?.close();
    rc?.cleanup();
  });

  const waitOnline = (user) =>
    rx.waitFor(() => rx.delivered(user).length >= 1, EVENT_MS, `user.online of ${user}`);

  it('no credentials: connect_error "authentication required ..." with data.code auth_required', async () => {
    for (const opts of [{}, { auth: {} }, { auth: { token: "" } }, { transports: ["polling"] }]) {
      const { message, data } = await refused(rc.url, opts);
      assert.match(message, /^authentication required/, JSON.stringify(opts));
      assert.deepEqual(data, { code: "auth_required" }, JSON.stringify(opts));
    }
  });

  it("an expired token is refused (message mentions expired, code invalid_token); inside the leeway it is accepted", async () => {
    const expired = tokenFor("auth-expired", { exp: nowS() - 3600 });
    const { message, data } = await refused(rc.url, { auth: { token: expired } });
    assert.match(message, /^authentication failed: .*expired/, message);
    assert.equal(data?.code, "invalid_token");
    // default leeway 30 s
    const justExpired = tokenFor("auth-leeway", { exp: nowS() - 5 });
    await connectUser(rc.url, justExpired);
  });

  it("bad signature, alg none, other algorithms, malformed tokens, a future nbf and a missing sub are refused", async () => {
    const claims = { sub: "auth-bad" };
    const good = signHS256(claims, JWT_SECRET);
    const [h, p] = good.split(".");
    const sig = /signature/;
    const alg = /algorithm/;
    const malformed = /malformed/;
    const cases = {
      "signed with another secret": [signHS256(claims, "another-secret-of-enough-length"), sig],
      "signature of another payload": [
        `${h}.${Buffer.from(JSON.stringify({ sub: "auth-admin", exp: nowS() + 60 })).toString("base64url")}.${good.split(".")[2]}`,
        sig,
      ],
      "alg none, empty signature": [unsignedToken(claims), alg],
      "alg none, HS256 signature kept": [
        `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${p}.${good.split(".")[2]}`,
        alg,
      ],
      "alg HS256, no signature": [`${h}.${p}.`, sig],
      "alg HS512 header": [signHS256(claims, JWT_SECRET, { header: { alg: "HS512" } }), alg],
      "alg RS256 header on an HMAC signature": [signHS256(claims, JWT_SECRET, { header: { alg: "RS256" } }), alg],
      "not a JWT": ["not-a-token", malformed],
      "two parts": [`${h}.${p}`, malformed],
      "nbf in an hour": [tokenFor("auth-bad", { nbf: nowS() + 3600 }), /nbf/],
      "no sub": [signHS256({ name: "nobody" }, JWT_SECRET), /sub/],
      "empty sub": [signHS256({ sub: "" }, JWT_SECRET), /sub/],
      "sub not a string": [signHS256({ sub: 42 }, JWT_SECRET), /./],
    };
    for (const [what, [token, reason]] of Object.entries(cases)) {
      const { message, data } = await refused(rc.url, { auth: { token } });
      assert.match(message, /^authentication failed: /, `${what}: ${message}`);
      assert.match(message, reason, `${what}: ${message}`);
      assert.equal(data?.code, "invalid_token", `${what}: ${JSON.stringify(data)}`);
    }
    // and the right token is accepted
    await connectUser(rc.url, good);
  });

  it("Authorization: Bearer in the handshake headers works over websocket and polling", async () => {
    for (const transport of ["websocket", "polling"]) {
      const user = `auth-header-${transport}`;
      const s = await connect(rc.url, { transports: [transport], extraHeaders: { authorization: `Bearer ${tokenFor(user)}` } });
      assert.equal(s.connected, true);
      await waitOnline(user);
      const p = (await api(rc, `/v1/presence/users/${user}`)).json;
      assert.equal(p.online, true);
      assert.equal(p.details[0].transport, transport);
      assert.equal(p.details[0].socket, s.id);
    }
    const { data } = await refused(rc.url, { extraHeaders: { authorization: `Bearer ${tokenFor("x", { secret: "wrong-secret-but-long-enough" })}` } });
    assert.equal(data?.code, "invalid_token");
  });

  it("a refused socket records nothing: no webhook event, the API shows the user offline", async () => {
    const user = "auth-refused";
    const tokens = [
      tokenFor(user, { exp: nowS() - 3600 }),
      tokenFor(user, { secret: "not-the-server-secret-at-all" }),
      unsignedToken({ sub: user }),
    ];
    for (const token of tokens) await refused(rc.url, { auth: { token } });
    await refused(rc.url, { extraHeaders: { authorization: `Bearer ${tokens[1]}` } });
    assert.deepEqual((await api(rc, `/v1/presence/users/${user}`)).json, { user, online: false, connections: 0 });
    // a marker user's online is delivered after anything stored before it (outbox order)
    await connectUser(rc.url, tokenFor("auth-refused-marker"));
    await waitOnline("auth-refused-marker");
    await elapse(GRACE_MS, "no late event for the refused user");
    assert.equal(rx.delivered(user).length, 0, `events for a refused user: ${JSON.stringify(rx.delivered(user))}`);
    assert.equal(rx.requests.filter((r) => r.events.some((e) => e.user === user)).length, 0);
  });

  it("identity rooms: org members hear presence events; user:/org: rooms cannot be joined or left by clients", async () => {
    const acme = [{ id: "auth-acme", role: "admin" }];
    const admin = await connectUser(rc.url, tokenFor("auth-admin", { orgs: acme }));
    await waitOnline("auth-admin");
    for (const room of ["user:x", "user:auth-admin", "org:y", "org:auth-acme", "org:auth-acme:role:admin", "user:", "org:"]) {
      const [res] = await ackWithin(admin, EVENT_MS, "room:join", room);
      assert.equal(res.ok, false, `room:join ${room}: ${JSON.stringify(res)}`);
      assert.equal(typeof res.error, "string");
    }
    for (const room of ["org:auth-acme", "user:auth-admin", "org:auth-acme:role:admin"]) {
      const [res] = await ackWithin(admin, EVENT_MS, "room:leave", room);
      assert.equal(res.ok, false, `room:leave ${room}: ${JSON.stringify(res)}`);
    }
    // still in org:auth-acme: a member's transition reaches it, once
    const member = await connectUser(rc.url, tokenFor("auth-member", { orgs: [{ id: "auth-acme", role: "member" }] }));
    const [p] = await admin.log.take("presence", EVENT_MS, ([x]) => x?.user === "auth-member");
    assert.deepEqual(p, { user: "auth-member", status: "online", org: "auth-acme" });
    // a user of another org is not heard
    await connectUser(rc.url, tokenFor("auth-stranger", { orgs: [{ id: "auth-other", role: "admin" }] }));
    await waitOnline("auth-stranger");
    await closeSocket(member);
    const [off] = await admin.log.take("presence", GRACE_MS + EVENT_MS, ([x]) => x?.user === "auth-member");
    assert.deepEqual(off, { user: "auth-member", status: "offline", org: "auth-acme" });
    assert.equal(
      admin.log.events.filter((e) => e.event === "presence" && e.args[0]?.user === "auth-stranger").length,
      0,
      "a presence event of another org arrived",
    );
  });

  it('room:join follows rooms.client_join = ["chat:*"]', async () => {
    const s = await connectUser(rc.url, tokenFor("auth-rooms"));
    for (const room of ["chat:general", "chat:", "chat:a:b"]) {
      const [res] = await ackWithin(s, EVENT_MS, "room:join", room);
      assert.deepEqual(res, { ok: true, room }, room);
    }
    for (const room of ["chat", "chatx:1", "xchat:1", "other", "", "CHAT:1"]) {
      const [res] = await ackWithin(s, EVENT_MS, "room:join", room);
      assert.equal(res.ok, false, `room:join ${JSON.stringify(room)}: ${JSON.stringify(res)}`);
    }
    const [nonString] = await ackWithin(s, EVENT_MS, "room:join", { room: "chat:1" });
    assert.equal(nonString.ok, false);
    const [left] = await ackWithin(s, EVENT_MS, "room:leave", "chat:general");
    assert.equal(left.ok, true);
  });

  it("room:join stops at rooms.max_per_socket with a clear error; rooms already joined still answer ok", async () => {
    const capped = await startRollcalld({
      config: presenceConfig({ overrides: { rooms: { client_join: ["chat:*"], max_per_socket: 3 } } }),
    });
    try {
      const s = await connectUser(capped.url, tokenFor("auth-room-cap"));
      for (const room of ["chat:1", "chat:2", "chat:3"]) {
        const [res] = await ackWithin(s, EVENT_MS, "room:join", room);
        assert.deepEqual(res, { ok: true, room }, room);
      }
      const [over] = await ackWithin(s, EVENT_MS, "room:join", "chat:4");
      assert.equal(over.ok, false);
      assert.match(over.error, /^too many rooms: .*rooms\.max_per_socket/);
      const [again] = await ackWithin(s, EVENT_MS, "room:join", "chat:2");
      assert.deepEqual(again, { ok: true, room: "chat:2" }, "a room already joined");
      const [left] = await ackWithin(s, EVENT_MS, "room:leave", "chat:1");
      assert.equal(left.ok, true);
      const [now] = await ackWithin(s, EVENT_MS, "room:join", "chat:4");
      assert.deepEqual(now, { ok: true, room: "chat:4" }, "room for one more after a leave");
      s.disconnect();
    } finally {
      await capped.stop();
      capped.cleanup();
    }
  });

  describe("RS256", () => {
    let rs;
    let keys;
    before(async () => {
      keys = rsaKeyPair();
      const dir = tempDir();
      const pub = path.join(dir, "jwt.pub.pem");
      fs.writeFileSync(pub, keys.publicKey);
      rs = await startRollcalld({
        dir,
        config: presenceConfig({
          graceMs: GRACE_MS,
          overrides: { auth: { jwt_secret: undefined, jwt_algorithm: "RS256", jwt_public_key_file: pub } },
        }),
      });
    });
    after(async () => {
      await closeAll();
      await rs?.stop();
      rs?.cleanup();
    });

    it("a valid RS256 token connects; HS256 tokens (also one keyed with the public key) and foreign keys are refused", async () => {
      const s = await connectUser(rs.url, signRS256({ sub: "rs-user", orgs: [{ id: "rs", role: "member" }] }, keys.privateKey));
      assert.equal(s.connected, true);
      const p = await waitPresence(rs, "rs-user");
      assert.deepEqual(p.orgs, [{ id: "rs", role: "member" }]);

      const other = rsaKeyPair();
      const cases = {
        "HS256 with a secret": signHS256({ sub: "rs-user" }, JWT_SECRET),
        "HS256 keyed with the RSA public key (algorithm confusion)": signHS256({ sub: "rs-user" }, keys.publicKey),
        "RS256 signed by another key": signRS256({ sub: "rs-user" }, other.privateKey),
        "alg none": unsignedToken({ sub: "rs-user" }),
        "RS256 expired": signRS256({ sub: "rs-user", exp: nowS() - 3600 }, keys.privateKey),
      };
      for (const [what, token] of Object.entries(cases)) {
        const { message, data } = await refused(rs.url, { auth: { token } });
        assert.equal(data?.code, "invalid_token", `${what}: ${message}`);
      }
      const viaHeader = await connect(rs.url, {
        ...ws,
        extraHeaders: { authorization: `Bearer ${signRS256({ sub: "rs-header" }, keys.privateKey)}` },
      });
      assert.equal(viaHeader.connected, true);
    });
  });

  describe("issuer, audience and allow_anonymous", () => {
    let srv;
    before(async () => {
      srv = await startRollcalld({
        config: presenceConfig({
          graceMs: GRACE_MS,
          overrides: { auth: { jwt_issuer: "https://issuer.test", jwt_audience: "rollcall", allow_anonymous: true } },
        }),
      });
    });
    after(async () => {
      await closeAll();
      await srv?.stop();
      srv?.cleanup();
    });

    it("iss/aud are checked; anonymous sockets connect untracked, but a bad token is still refused", async () => {
      const ok = tokenFor("iss-user", { iss: "https://issuer.test", aud: "rollcall" });
      await connectUser(srv.url, ok);
      await waitPresence(srv, "iss-user");
      for (const [what, token] of Object.entries({
        "wrong iss": tokenFor("iss-user2", { iss: "https://evil.test", aud: "rollcall" }),
        "no iss": tokenFor("iss-user2", { aud: "rollcall" }),
        "wrong aud": tokenFor("iss-user2", { iss: "https://issuer.test", aud: "other" }),
        "no aud": tokenFor("iss-user2", { iss: "https://issuer.test" }),
      })) {
        const { data } = await refused(srv.url, { auth: { token } });
        assert.equal(data?.code, "invalid_token", what);
      }
      const anon = await connect(srv.url, ws);
      assert.equal(anon.connected, true);
      const [list] = await ackWithin(anon, EVENT_MS, "presence:list");
      assert.equal(typeof list.error, "string", JSON.stringify(list));
      const bad = await refused(srv.url, { auth: { token: tokenFor("iss-user3", { exp: nowS() - 3600 }) } });
      assert.equal(bad.data?.code, "invalid_token");
    });
  });
});
