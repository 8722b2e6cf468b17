// JSON Web Tokens for the rollcalld tests, built with node:crypto only.
//
//   signHS256({ sub: "alice", orgs: [{ id: "acme", role: "admin" }] }, secret)
//   signRS256(claims, privateKeyPem)
//   unsignedToken(claims)                       // alg "none"
//   rsaKeyPair()                                // { publicKey, privateKey } PEM strings
//
// Claims get `iat` and a one-hour `exp` unless the caller sets them (pass
// `exp: undefined` to leave `exp` out).

import crypto from "node:crypto";

export function base64url(input) {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(typeof input === "string" ? input : JSON.stringify(input));
  return buf.toString("base64url");
}

export const nowS = () => Math.floor(Date.now() / 1000);

function withTimes(claims) {
  const out = { iat: nowS(), exp: nowS() + 3600, ...claims };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** `base64url(header).base64url(payload)` */
export function signingInput(header, claims) {
  return `${base64url(header)}.${base64url(claims)}`;
}

export function signHS256(claims, secret, { header = {} } = {}) {
  const input = signingInput({ alg: "HS256", typ: "JWT", ...header }, withTimes(claims));
  const sig = crypto.createHmac("sha256", secret).update(input).digest();
  return `${input}.${base64url(sig)}`;
}

export function signRS256(claims, privateKeyPem, { header = {} } = {}) {
  const input = signingInput({ alg: "RS256", typ: "JWT", ...header }, withTimes(claims));
  const sig = crypto.sign("sha256", Buffer.from(input), privateKeyPem);
  return `${input}.${base64url(sig)}`;
}

/** An unsigned token: header alg "none", empty signature. */
export function unsignedToken(claims) {
  return `${signingInput({ alg: "none", typ: "JWT" }, withTimes(claims))}.`;
}

/** A fresh 2048-bit RSA key pair as PEM strings (SPKI public key, PKCS#8 private key). */
export function rsaKeyPair() {
  return crypto.generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
}
