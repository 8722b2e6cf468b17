// express-session + connect-redis sessions, as an Express app would leave
// them: the session JSON under `sess:<sid>` in Redis and the signed cookie
// `connect.sid=s%3A<sid>.<signature>` (cookie-signature: base64 HMAC-SHA256
// of the sid, without the trailing "=").
//
//   const sid = newSid();
//   await storeSession(redisPort, sid, { userId: "u42" });
//   const cookie = sessionCookie(sid, "the session secret");   // "connect.sid=..."
//   io(url, { extraHeaders: { cookie } })

import crypto from "node:crypto";

import { redisCommand } from "./resp.mjs";

/** A random session id like express-session's (uid-safe, 24 bytes). */
export function newSid() {
  return crypto.randomBytes(24).toString("base64url");
}

/** cookie-signature's sign(): `sid + "." + base64(HMAC-SHA256(secret, sid))` without "=" padding. */
export function signSid(sid, secret) {
  const mac = crypto.createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, "");
  return `${sid}.${mac}`;
}

/** The Cookie header value express-session sets: name=encodeURIComponent("s:" + signed). */
export function sessionCookie(sid, secret, { name = "connect.sid" } = {}) {
  return `${name}=${encodeURIComponent(`s:${signSid(sid, secret)}`)}`;
}

/** The session object connect-redis stores (cookie part as express-session serialises it). */
export function sessionData(fields) {
  return { cookie: { originalMaxAge: null, httpOnly: true, path: "/" }, ...fields };
}

/** SET <prefix><sid> <json> EX <ttl> in Redis on 127.0.0.1:`port`. */
export async function storeSession(port, sid, fields, { prefix = "sess:", ttlS = 300 } = {}) {
  const reply = await redisCommand(port, ["SET", `${prefix}${sid}`, JSON.stringify(sessionData(fields)), "EX", String(ttlS)]);
  if (reply !== "OK") throw new Error(`Redis SET ${prefix}${sid} answered ${JSON.stringify(reply)}`);
}

export async function deleteSession(port, sid, { prefix = "sess:" } = {}) {
  await redisCommand(port, ["DEL", `${prefix}${sid}`]);
}
