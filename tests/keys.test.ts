/**
 * Asymmetric keys (README "Tokens"): RS256/ES256 tokens carry a kid, the Jwks action publishes only
 * public members and an independent library (jose) verifies our tokens from it, earlier public
 * keys keep verifying after a rotation, and every way a token could choose its own key (jwk, jku,
 * x5u, x5c, crit, an unknown or injected kid, HMAC keyed with the public key) is refused.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto";
import * as jose from "jose";
import jwt from "jsonwebtoken";
import { ConfigError, readSettings } from "../src/config.ts";
import { accountSettings } from "../account/settings.ts";
import { Tokens, type TokenOptions } from "../account/tokens.ts";
import { parsePreviousKeys } from "../account/keys.ts";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";

type Alg = "RS256" | "ES256";
interface Pair {
  alg: Alg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

function keyPair(alg: Alg, rsaBits = 2048): Pair {
  const { privateKey, publicKey } =
    alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: rsaBits }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    alg,
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

function tokensFor(pair: Pair, kid: string, options: Partial<TokenOptions> = {}): Tokens {
  return new Tokens({
    algorithm: pair.alg,
    privateKey: pair.privatePem,
    keyId: kid,
    issuer: "vera-service",
    audience: "vera-clients",
    ttlSeconds: 600,
    maxTtlSeconds: 3600,
    ...options,
  });
}

const PAIRS = { RS256: keyPair("RS256"), ES256: keyPair("ES256"), RS256b: keyPair("RS256"), ES256b: keyPair("ES256") };

describe("asymmetric keys without a database", () => {
  for (const alg of ["RS256", "ES256"] as const) {
    test(`${alg}: the JWKs hold kty, use, alg, kid and public members only; jose verifies our tokens from them`, async () => {
      const tokens = tokensFor(PAIRS[alg], "current");
      const jwks = tokens.publicJwks();
      assert.equal(jwks.length, 1);
      const [jwk] = jwks;
      const expected = alg === "RS256" ? ["alg", "e", "kid", "kty", "n", "use"] : ["alg", "crv", "kid", "kty", "use", "x", "y"];
      assert.deepEqual(Object.keys(jwk!).sort(), expected);
      assert.deepEqual([jwk!.kty, jwk!.use, jwk!.alg, jwk!.kid], [alg === "RS256" ? "RSA" : "EC", "sig", alg, "current"]);
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in jwk!), `no ${member}`);

      const { jwt: token, claims } = tokens.sign("42", { expiresAt: now() + 60 });
      assert.equal(jwt.decode(token, { complete: true })!.header.kid, "current");
      const verified = await jose.jwtVerify(token, jose.createLocalJWKSet({ keys: jwks }), { issuer: "vera-service", audience: "vera-clients" });
      assert.equal(verified.payload.jti, claims.jti);
      assert.equal(verified.protectedHeader.alg, alg);
    });
  }

  test("rotation: earlier public keys (as {kid: PEM} or as a JWK Set) keep verifying; dropped, they stop", async () => {
    const before = tokensFor(PAIRS.RS256, "2024-01");
    const old = before.sign("7", { expiresAt: now() + 600 }).jwt;
    const asPem = tokensFor(PAIRS.RS256b, "2024-02", { previousPublicKeys: JSON.stringify({ "2024-01": PAIRS.RS256.publicPem }) });
    const asJwks = tokensFor(PAIRS.RS256b, "2024-02", { previousPublicKeys: JSON.stringify({ keys: before.publicJwks() }) });
    for (const after of [asPem, asJwks]) {
      assert.equal(after.verify(old).valid, true, "a token of the previous key still verifies");
      assert.equal(after.verify(after.sign("7", { expiresAt: now() + 60 }).jwt).valid, true);
      assert.deepEqual(after.publicJwks().map((k) => k.kid), ["2024-02", "2024-01"], "the JWKS lists the current key first");
      // jose, given our JWKS, verifies both generations.
      const set = jose.createLocalJWKSet({ keys: after.publicJwks() });
      await jose.jwtVerify(old, set);
      await jose.jwtVerify(after.sign("8", { expiresAt: now() + 60 }).jwt, set);
    }
    const dropped = tokensFor(PAIRS.RS256b, "2024-02");
    assert.deepEqual(dropped.verify(old), { valid: false, reason: "unknown key" });
    // "Until their tokens expire": an old token past its exp fails as expired, previous key or not.
    const expired = before.sign("7", { expiresAt: now() - 120 }).jwt;
    assert.deepEqual(asPem.verify(expired), { valid: false, reason: "expired" });
  });

  test("rotation across algorithms: each key is pinned to its own algorithm", () => {
    const es = tokensFor(PAIRS.ES256, "ec-1");
    const rs = tokensFor(PAIRS.RS256, "rsa-2", { previousPublicKeys: JSON.stringify({ "ec-1": PAIRS.ES256.publicPem }) });
    assert.equal(rs.verify(es.sign("1", { expiresAt: now() + 60 }).jwt).valid, true);
    // An ES256 signature presented under the RSA key's kid, or RS256 under the EC key's kid.
    const claims = { jti: crypto.randomUUID(), sub: "1", iss: "vera-service", aud: "vera-clients", iat: now(), exp: now() + 60 };
    const esUnderRsaKid = jwt.sign(claims, PAIRS.ES256.privateKey, { algorithm: "ES256", keyid: "rsa-2" });
    const rsUnderEcKid = jwt.sign(claims, PAIRS.RS256.privateKey, { algorithm: "RS256", keyid: "ec-1" });
    assert.deepEqual(rs.verify(esUnderRsaKid), { valid: false, reason: "algorithm not allowed" });
    assert.deepEqual(rs.verify(rsUnderEcKid), { valid: false, reason: "algorithm not allowed" });
  });

  describe("header attacks on an RS256 service", () => {
    const victim = tokensFor(PAIRS.RS256, "current");
    const attacker = PAIRS.RS256b;
    const claims = () => ({ jti: crypto.randomUUID(), sub: "1", iss: "vera-service", aud: "vera-clients", iat: now(), exp: now() + 600 });
    const rs256 = (header: Record<string, unknown>, key: KeyObject = attacker.privateKey) =>
      jwt.sign(claims(), key, { algorithm: "RS256", header: { alg: "RS256", ...header } as jwt.JwtHeader });
    const hs256 = (header: Record<string, unknown>, secret: string | Buffer) => {
      const input = `${b64({ alg: "HS256", ...header })}.${b64(claims())}`;
      return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
    };
    const attackerJwk = attacker.publicKey.export({ format: "jwk" });
    const cases: Array<[string, () => string, string]> = [
      ["an embedded jwk with the attacker's key", () => rs256({ kid: "current", jwk: attackerJwk }), "header not allowed"],
      ["an embedded jwk and no kid", () => rs256({ jwk: attackerJwk }), "header not allowed"],
      ["a jku pointing at the attacker's keys", () => rs256({ kid: "current", jku: "https://attacker.example/jwks.json" }), "header not allowed"],
      ["an x5u", () => rs256({ kid: "current", x5u: "https://attacker.example/cert.pem" }), "header not allowed"],
      ["an x5c chain", () => rs256({ kid: "current", x5c: ["MIIB"] }), "header not allowed"],
      ["a crit extension", () => rs256({ kid: "current", crit: ["exp"] }, PAIRS.RS256.privateKey), "header not allowed"],
      ["an unknown kid", () => rs256({ kid: "somebody-else" }), "unknown key"],
      ["no kid, signed with our own key", () => rs256({}, PAIRS.RS256.privateKey), "unknown key"],
      ["kid path traversal", () => rs256({ kid: "../../../../dev/null" }), "unknown key"],
      ["kid SQL injection", () => rs256({ kid: "' UNION SELECT 'x' --" }), "unknown key"],
      ["kid __proto__", () => rs256({ kid: "__proto__" }), "unknown key"],
      ["kid not a string", () => rs256({ kid: { $ne: null } }), "unknown key"],
      ["HMAC keyed with our public key (PEM)", () => hs256({ kid: "current" }, PAIRS.RS256.publicPem), "algorithm not allowed"],
      ["HMAC keyed with our public key (DER)", () => hs256({}, PAIRS.RS256.publicKey.export({ type: "spki", format: "der" })), "algorithm not allowed"],
      ["alg none", () => `${b64({ alg: "none", kid: "current" })}.${b64(claims())}.`, "algorithm not allowed"],
      ["ES256 pretending to be our key", () => jwt.sign(claims(), PAIRS.ES256.privateKey, { algorithm: "ES256", keyid: "current" }), "algorithm not allowed"],
      ["RS256 with our kid but the attacker's key", () => rs256({ kid: "current" }), "invalid signature"],
    ];
    for (const [name, make, reason] of cases) {
      test(`${name} → ${reason}`, () => {
        assert.deepEqual(victim.verify(make()), { valid: false, reason });
      });
    }
    test("the same token, well made, verifies (the cases above differ in one thing only)", () => {
      assert.equal(victim.verify(rs256({ kid: "current" }, PAIRS.RS256.privateKey)).valid, true);
    });
  });

  test("HS256: our tokens carry no kid, so a token with one is refused even with the right secret", () => {
    const secret = "a-test-secret-of-at-least-32-bytes!!";
    const tokens = new Tokens({ algorithm: "HS256", secret, issuer: "vera-service", audience: "vera-clients", ttlSeconds: 60, maxTtlSeconds: 3600 });
    const { jwt: token, claims } = tokens.sign("1", { expiresAt: now() + 60 });
    assert.equal(jwt.decode(token, { complete: true })!.header.kid, undefined);
    assert.equal(tokens.verify(token).valid, true);
    assert.deepEqual(tokens.verify(jwt.sign(claims, secret, { algorithm: "HS256", keyid: "any" })), { valid: false, reason: "unknown key" });
    assert.deepEqual(tokens.verify(jwt.sign(claims, secret, { algorithm: "HS256", header: { alg: "HS256", jku: "https://x" } as jwt.JwtHeader })), {
      valid: false,
      reason: "header not allowed",
    });
    assert.deepEqual(tokens.publicJwks(), []);
  });

  describe("configuration", () => {
    const problems = (env: Record<string, string>) => {
      try {
        readSettings(accountSettings({ production: false, test: true }), env);
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
    };

    test("a good RS256 or ES256 setup loads; PEM with literal \\n (one-line .env files) too", () => {
      assert.deepEqual(problems({ JWT_ALGORITHM: "RS256", JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_KEY_ID: "k1" }), []);
      assert.deepEqual(problems({ JWT_ALGORITHM: "ES256", JWT_PRIVATE_KEY: PAIRS.ES256.privatePem.replace(/\n/g, "\\n"), JWT_KEY_ID: "k1" }), []);
      const previous = JSON.stringify({ old: PAIRS.RS256b.publicPem, older: PAIRS.ES256b.publicPem });
      assert.deepEqual(problems({ JWT_ALGORITHM: "RS256", JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_KEY_ID: "k1", JWT_PREVIOUS_PUBLIC_KEYS: previous }), []);
    });

    test("bad keys stop the start-up with one line each, never the key itself", () => {
      const rs = { JWT_ALGORITHM: "RS256", JWT_KEY_ID: "k1" };
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ ...rs, JWT_PRIVATE_KEY: "not a key" }, /^JWT_PRIVATE_KEY: not a PEM private key$/],
        [{ ...rs, JWT_PRIVATE_KEY: PAIRS.ES256.privatePem }, /^JWT_PRIVATE_KEY: RS256 needs an RSA key of at least 2048 bits$/],
        [{ ...rs, JWT_PRIVATE_KEY: keyPair("RS256", 1024).privatePem }, /^JWT_PRIVATE_KEY: RS256 needs an RSA key/],
        [{ JWT_ALGORITHM: "ES256", JWT_KEY_ID: "k1", JWT_PRIVATE_KEY: PAIRS.RS256.privatePem }, /^JWT_PRIVATE_KEY: ES256 needs an EC key on the P-256 curve$/],
        [{ ...rs, JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: "not json" }, /^JWT_PREVIOUS_PUBLIC_KEYS: must be JSON/],
        [{ ...rs, JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: '["a"]' }, /^JWT_PREVIOUS_PUBLIC_KEYS: must be a JSON object$/],
        [{ ...rs, JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: '{"old": "garbage"}' }, /^JWT_PREVIOUS_PUBLIC_KEYS: the key of "old" is not a public key$/],
        [{ ...rs, JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify({ k1: PAIRS.RS256b.publicPem }) }, /is the current JWT_KEY_ID/],
        [{ ...rs, JWT_PRIVATE_KEY: PAIRS.RS256.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify({ keys: [{ kty: "RSA" }] }) }, /every JWK needs a kid/],
        [{ JWT_SECRET: "x".repeat(32), JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify({ old: PAIRS.RS256.publicPem }) }, /^JWT_PREVIOUS_PUBLIC_KEYS: only for RS256\/ES256, not HS256$/],
      ];
      for (const [env, expected] of cases) {
        const found = problems(env);
        assert.equal(found.length, 1, `${JSON.stringify(found)}`);
        assert.match(found[0]!, expected);
        assert.ok(!found[0]!.includes("BEGIN"), "the key never appears in the message");
      }
    });

    test("a JWK Set with a private key in it yields public keys only", () => {
      const privateJwk = { ...PAIRS.ES256.privateKey.export({ format: "jwk" }), kid: "was-private" };
      const [entry] = parsePreviousKeys(JSON.stringify({ keys: [privateJwk] }));
      assert.equal(entry!.key.type, "public");
      assert.equal(entry!.alg, "ES256");
    });
  });
});

describe("Jwks and the account actions with asymmetric keys", () => {
  let database: FreshDatabase;
  let hs: Accounts;
  before(async () => {
    database = await createTestDatabase();
    hs = await startAccounts({ database });
  });
  after(async () => {
    await hs?.close();
    await database?.drop();
  });

  const env = (pair: Pair, kid: string, previous?: Record<string, string>) => ({
    JWT_ALGORITHM: pair.alg,
    JWT_PRIVATE_KEY: pair.privatePem,
    JWT_KEY_ID: kid,
    ...(previous ? { JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify(previous) } : {}),
  });

  test("HS256: Jwks answers 200 {keys: []}", async () => {
    const answer = await hs.dispatch("Jwks", {});
    assert.deepEqual([answer.status_code, answer.status, answer.fields], [200, "success", { keys: [] }]);
    assert.equal((await hs.dispatch("Jwks", { extra: 1 })).status_code, 400);
  });

  for (const alg of ["RS256", "ES256"] as const) {
    test(`${alg}: Register's token verifies in jose from the Jwks answer; Verify and Show accept it`, async () => {
      const accounts = await startAccounts({ database, env: env(PAIRS[alg], `${alg}-key`) });
      try {
        const answer = await accounts.dispatch("Jwks", {});
        assert.equal(answer.status_code, 200);
        const jwks = answer.fields as { keys: Array<Record<string, string>> };
        assert.equal(jwks.keys.length, 1);
        for (const member of PRIVATE_MEMBERS) assert.ok(!(member in jwks.keys[0]!));
        const token = await register(accounts, { username: `jose-${alg}` });
        const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks as jose.JSONWebKeySet), {
          algorithms: [alg],
          issuer: "vera-service",
          audience: "vera-clients",
        });
        assert.equal(protectedHeader.kid, `${alg}-key`);
        assert.equal(typeof payload.sub, "string");
        const verified = await accounts.dispatch("Verify", { jwt: token });
        assert.equal((verified.fields as { active: boolean }).active, true);
        assert.equal((await accounts.dispatch("Show", { jwt: token })).status_code, 200);
        // The HS256 replica of the same database knows nothing of this key.
        assert.deepEqual((await hs.dispatch("Verify", { jwt: token })).fields, { active: false });
      } finally {
        await accounts.close();
      }
    });
  }

  test("key rotation across replicas of one database: the previous key verifies until removed", async () => {
    const before = await startAccounts({ database, env: env(PAIRS.RS256, "2024-01") });
    const token = await register(before, { username: "rotation-user" });
    await before.close();

    const after = await startAccounts({ database, env: env(PAIRS.ES256, "2024-02", { "2024-01": PAIRS.RS256.publicPem }) });
    const forgotten = await startAccounts({ database, env: env(PAIRS.ES256, "2024-02") });
    try {
      assert.equal(((await after.dispatch("Verify", { jwt: token })).fields as { active: boolean }).active, true);
      assert.equal((await after.dispatch("Show", { jwt: token })).status_code, 200);
      const keys = ((await after.dispatch("Jwks", {})).fields as { keys: Array<{ kid: string; alg: string }> }).keys;
      assert.deepEqual(keys.map((k) => [k.kid, k.alg]), [["2024-02", "ES256"], ["2024-01", "RS256"]]);
      // New tokens use the new key; jose verifies old and new from one JWKS.
      const fresh = (await after.dispatch("Login", { username: "rotation-user", password: "password123" })).fields as { jwt: string };
      const set = jose.createLocalJWKSet({ keys } as jose.JSONWebKeySet);
      assert.equal((await jose.jwtVerify(fresh.jwt, set)).protectedHeader.kid, "2024-02");
      assert.equal((await jose.jwtVerify(token, set)).protectedHeader.kid, "2024-01");

      assert.deepEqual((await forgotten.dispatch("Verify", { jwt: token })).fields, { active: false });
      // Without the RS256 key no key of this replica takes RS256 at all.
      assert.deepEqual((await forgotten.dispatch("Show", { jwt: token })).message, "Invalid token: algorithm not allowed");
      assert.equal(((await forgotten.dispatch("Verify", { jwt: fresh.jwt })).fields as { active: boolean }).active, true);
    } finally {
      await after.close();
      await forgotten.close();
    }
  });
});
