/**
 * Tokens without a database: the claims every token carries, the lifetime rules, pinned
 * verification with the 60 s skew and the 8 KiB ceiling, and RS256/ES256 keys that an
 * independent library (jose) accepts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import jwt from "jsonwebtoken";
import * as jose from "jose";
import { Tokens, type TokenOptions } from "../account/tokens.ts";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const T0 = 1_800_000_000;

function tokens(options: Partial<TokenOptions> & { clock?: { now: number } } = {}) {
  const clock = options.clock ?? { now: T0 };
  return new Tokens({
    algorithm: "HS256",
    secret: SECRET,
    issuer: "vera-service",
    audience: "vera-clients",
    ttlSeconds: 3600,
    maxTtlSeconds: 86_400,
    now: () => clock.now,
    ...options,
  });
}

describe("Tokens", () => {
  test("claims: jti (UUID, unique), iss, aud, sub, iat, exp, and nbf only when given", () => {
    const t = tokens();
    const a = t.sign("42", { expiresAt: T0 + 3600 });
    const b = t.sign("42", { notBefore: T0 + 10, expiresAt: T0 + 3600 });
    const payload = jwt.decode(a.jwt, { complete: true })!;
    assert.equal(payload.header.alg, "HS256");
    assert.deepEqual(Object.keys(payload.payload as object).sort(), ["aud", "exp", "iat", "iss", "jti", "sub"]);
    assert.deepEqual(payload.payload, { jti: a.claims.jti, sub: "42", iss: "vera-service", aud: "vera-clients", iat: T0, exp: T0 + 3600 });
    assert.match(a.claims.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.claims.jti, b.claims.jti);
    assert.equal((jwt.decode(b.jwt) as jwt.JwtPayload).nbf, T0 + 10);
  });

  test("lifetime rules", () => {
    const t = tokens();
    assert.deepEqual(t.lifetime({}), { ok: true, lifetime: { expiresAt: T0 + 3600 } });
    assert.deepEqual(t.lifetime({ not_before: T0 + 100 }), { ok: true, lifetime: { notBefore: T0 + 100, expiresAt: T0 + 3700 } });
    assert.deepEqual(t.lifetime({ not_before: T0 - 100 }), { ok: true, lifetime: { notBefore: T0 - 100, expiresAt: T0 + 3600 } });
    assert.deepEqual(t.lifetime({ not_before: T0 + 5, expires_at: T0 + 5 }), { ok: true, lifetime: { notBefore: T0 + 5, expiresAt: T0 + 5 } });
    assert.deepEqual(t.lifetime({ not_before: T0 + 6, expires_at: T0 + 5 }), { ok: false, problem: "not_before_after_expiry" });
    assert.deepEqual(t.lifetime({ expires_at: T0 }), { ok: false, problem: "expiry_in_past" });
    assert.deepEqual(t.lifetime({ expires_at: T0 + 86_400 }), { ok: true, lifetime: { expiresAt: T0 + 86_400 } });
    assert.deepEqual(t.lifetime({ expires_at: T0 + 86_401 }), { ok: false, problem: "expiry_beyond_maximum" });
    assert.deepEqual(t.lifetime({ not_before: T0 + 86_000 }), { ok: false, problem: "expiry_beyond_maximum" });
  });

  test("up to 60 s of clock skew either way", () => {
    const clock = { now: T0 };
    const t = tokens({ clock });
    const { jwt: token } = t.sign("1", { notBefore: T0 + 100, expiresAt: T0 + 200 });
    clock.now = T0 + 39;
    assert.deepEqual(t.verify(token), { valid: false, reason: "not active yet" });
    clock.now = T0 + 40;
    assert.equal(t.verify(token).valid, true);
    clock.now = T0 + 259;
    assert.equal(t.verify(token).valid, true);
    clock.now = T0 + 260;
    assert.deepEqual(t.verify(token), { valid: false, reason: "expired" });
  });

  test("pinned algorithm, issuer, audience, size", () => {
    const t = tokens();
    const good = t.sign("1", { expiresAt: T0 + 60 }).jwt;
    assert.equal(t.verify(good).valid, true);
    assert.deepEqual(tokens({ algorithm: "HS384" }).verify(good), { valid: false, reason: "algorithm not allowed" });
    assert.deepEqual(tokens({ issuer: "other" }).verify(good), { valid: false, reason: "wrong issuer" });
    assert.deepEqual(tokens({ audience: "other" }).verify(good), { valid: false, reason: "wrong audience" });
    assert.deepEqual(tokens({ secret: "another-secret-of-at-least-32-bytes!" }).verify(good), { valid: false, reason: "invalid signature" });
    assert.deepEqual(t.verify("x".repeat(8193)), { valid: false, reason: "too large" });
    assert.deepEqual(t.verify(""), { valid: false, reason: "malformed" });
    const [header, payload] = good.split(".");
    assert.deepEqual(t.verify(`${header}.${payload}.`), { valid: false, reason: "invalid signature" });
  });

  test("secrets shorter than 32 bytes are refused", () => {
    assert.throws(() => tokens({ secret: "too-short" }), /at least 32 bytes/);
    assert.throws(() => tokens({ secret: undefined }), /secret is required/);
  });

  for (const [algorithm, keyType, options] of [
    ["RS256", "rsa", { modulusLength: 2048 }],
    ["ES256", "ec", { namedCurve: "P-256" }],
  ] as const) {
    test(`${algorithm}: signs with kid, verifies, and jose agrees`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync(keyType as "rsa", options as { modulusLength: number });
      const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      const t = tokens({ algorithm, privateKey: pem, keyId: "key-1", secret: undefined });
      const { jwt: token, claims } = t.sign("7", { expiresAt: Math.floor(Date.now() / 1000) + 60 });
      const real = new Tokens({ algorithm, privateKey: pem, keyId: "key-1", issuer: "vera-service", audience: "vera-clients", ttlSeconds: 60, maxTtlSeconds: 3600 });
      assert.equal(real.verify(token).valid, true);
      const verified = await jose.jwtVerify(token, publicKey, { algorithms: [algorithm], issuer: "vera-service", audience: "vera-clients" });
      assert.equal(verified.protectedHeader.kid, "key-1");
      assert.equal(verified.payload.jti, claims.jti);
      // An HMAC token "signed" with the public key as the secret: the classic confusion attack.
      const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
      const confused = await new jose.SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256", kid: "key-1" }).sign(new TextEncoder().encode(publicPem));
      assert.deepEqual(real.verify(confused), { valid: false, reason: "algorithm not allowed" });
      const otherKid = await new jose.SignJWT({ ...claims }).setProtectedHeader({ alg: algorithm, kid: "key-2" }).sign(privateKey);
      assert.deepEqual(real.verify(otherKid), { valid: false, reason: "unknown key" });
    });
  }
});
