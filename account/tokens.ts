/**
 * JWTs (jsonwebtoken): signing with the claims every token carries, and verification that
 * pins the algorithm, checks issuer and audience, allows 60 s of clock skew and refuses
 * oversized tokens. Pure crypto and clock: whether a token is revoked or its account still
 * alive is asked of the database by account/authenticate.ts.
 */
import { createSecretKey, randomUUID, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import type { JwtAlgorithm } from "./settings.ts";
import { parsePreviousKeys, parseSigningKey, toPublicJwk, type AsymmetricAlgorithm, type PublicJwk, type VerificationKey } from "./keys.ts";

export interface TokenOptions {
  algorithm: JwtAlgorithm;
  /** HS256/384/512: the shared secret (≥ 32 bytes). */
  secret?: string;
  /** RS256/ES256: the private key (PEM); its public half verifies. */
  privateKey?: string;
  /** RS256/ES256: the `kid` header of the tokens we sign. */
  keyId?: string;
  /** RS256/ES256: earlier public keys that still verify, as JSON (see account/keys.ts). */
  previousPublicKeys?: string;
  issuer: string;
  audience: string;
  /** Lifetime when the caller gives no expires_at. */
  ttlSeconds: number;
  /** Latest allowed exp: now + this. */
  maxTtlSeconds: number;
  clockToleranceSeconds?: number;
  maxTokenBytes?: number;
  /** Unix seconds; tests move the clock. */
  now?: () => number;
}

export interface TokenClaims {
  jti: string;
  sub: string;
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  nbf?: number;
  /** The account's role names when the token was minted (account/roles.ts); absent in tokens from before roles. */
  roles?: string[];
}

/** Why a token was refused; shown to the caller as `Invalid token: <reason>`. */
export type TokenRejection =
  | "too large"
  | "malformed"
  | "algorithm not allowed"
  | "unknown key"
  | "header not allowed"
  | "invalid signature"
  | "expired"
  | "not active yet"
  | "wrong issuer"
  | "wrong audience"
  | "missing claims";

export type Verified = { valid: true; claims: TokenClaims } | { valid: false; reason: TokenRejection };

/** When a token may be used: caller-chosen or defaulted, already checked. */
export interface Lifetime {
  notBefore?: number;
  expiresAt: number;
}

export type LifetimeProblem = "not_before_after_expiry" | "expiry_in_past" | "expiry_beyond_maximum";

const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Header parameters that would let a token pick its own key (RFC 8725 §3.10, RFC 7515 §4.1): we
 * never fetch or trust keys a token brings. `crit` names extensions we do not implement.
 */
const FORBIDDEN_HEADERS = ["jwk", "jku", "x5u", "x5c", "crit"] as const;

interface Keys {
  signing: string | KeyObject;
  /** The kid our tokens carry (asymmetric keys only; HS* tokens carry none). */
  kid: string | undefined;
  /** Every algorithm some key verifies: anything else stops at the header. */
  algorithms: ReadonlySet<string>;
  /** The key that verifies a token with this kid, and the one algorithm it is pinned to. */
  verifying(kid: unknown): { key: string | KeyObject; alg: JwtAlgorithm } | undefined;
  /** The public JWKs, current key first; none for HS*. */
  jwks: readonly PublicJwk[];
}

export class Tokens {
  private readonly keys: Keys;
  private readonly tolerance: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(private readonly options: TokenOptions) {
    this.keys = loadKeys(options);
    this.tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
    this.maxBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  get algorithm(): JwtAlgorithm {
    return this.options.algorithm;
  }

  /** Unix seconds by the clock that stamps `iat`. */
  currentTime(): number {
    return this.now();
  }

  /** The clock skew verification allows, in seconds. */
  get clockToleranceSeconds(): number {
    return this.tolerance;
  }

  /** The public keys as a JWK Set's `keys` (RFC 7517): empty for HS*. */
  publicJwks(): PublicJwk[] {
    return this.keys.jwks.map((jwk) => ({ ...jwk }));
  }

  /**
   * Checks a caller's not_before/expires_at (unix seconds) and fills in the default expiry:
   * `not_before ≤ exp`, `now < exp ≤ now + max lifetime`. Without expires_at the token lives
   * ttlSeconds from when it becomes valid.
   */
  lifetime(requested: { not_before?: number; expires_at?: number }): { ok: true; lifetime: Lifetime } | { ok: false; problem: LifetimeProblem } {
    const now = this.now();
    const { not_before: notBefore, expires_at: given } = requested;
    const expiresAt = given ?? Math.max(now, notBefore ?? now) + this.options.ttlSeconds;
    if (notBefore !== undefined && notBefore > expiresAt) return { ok: false, problem: "not_before_after_expiry" };
    if (expiresAt <= now) return { ok: false, problem: "expiry_in_past" };
    if (expiresAt > now + this.options.maxTtlSeconds) return { ok: false, problem: "expiry_beyond_maximum" };
    return { ok: true, lifetime: notBefore === undefined ? { expiresAt } : { notBefore, expiresAt } };
  }

  /** Signs a token for a subject (the user id) with a fresh jti. */
  sign(subject: string, lifetime: Lifetime, roles?: readonly string[]): { jwt: string; claims: TokenClaims } {
    const claims: TokenClaims = {
      jti: randomUUID(),
      sub: subject,
      iss: this.options.issuer,
      aud: this.options.audience,
      iat: this.now(),
      // exp is set here, never through jsonwebtoken's expiresIn (which reads "3600" as 3.6 s).
      exp: lifetime.expiresAt,
      ...(lifetime.notBefore !== undefined ? { nbf: lifetime.notBefore } : {}),
      ...(roles !== undefined ? { roles: [...roles] } : {}),
    };
    const token = jwt.sign(claims, this.keys.signing, {
      algorithm: this.options.algorithm,
      ...(this.keys.kid !== undefined ? { keyid: this.keys.kid } : {}),
    });
    return { jwt: token, claims };
  }

  /** Signature and claims only; never throws. */
  verify(token: string): Verified {
    if (Buffer.byteLength(token, "utf8") > this.maxBytes) return { valid: false, reason: "too large" };
    let decoded: jwt.Jwt | null;
    try {
      // jws throws (instead of returning null) when a segment is base64 of invalid JSON.
      decoded = jwt.decode(token, { complete: true });
    } catch {
      return { valid: false, reason: "malformed" };
    }
    if (!decoded || typeof decoded.payload !== "object" || decoded.payload === null) return { valid: false, reason: "malformed" };
    const header: unknown = decoded.header;
    if (typeof header !== "object" || header === null) return { valid: false, reason: "malformed" };
    const { alg, kid } = header as { alg?: unknown; kid?: unknown };
    // Pinned: alg none, another HS size, or an HMAC token "signed" with a public key all stop here.
    if (typeof alg !== "string" || !this.keys.algorithms.has(alg)) return { valid: false, reason: "algorithm not allowed" };
    if (FORBIDDEN_HEADERS.some((name) => Object.hasOwn(header, name))) return { valid: false, reason: "header not allowed" };
    const entry = this.keys.verifying(kid);
    if (!entry) return { valid: false, reason: "unknown key" };
    if (entry.alg !== alg) return { valid: false, reason: "algorithm not allowed" };
    let payload: jwt.JwtPayload;
    try {
      payload = jwt.verify(token, entry.key, {
        algorithms: [entry.alg],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.tolerance,
        clockTimestamp: this.now(),
      }) as jwt.JwtPayload;
    } catch (error) {
      return { valid: false, reason: rejection(error) };
    }
    const { jti, sub, iss, aud, iat, exp, nbf, roles } = payload;
    if (
      typeof jti !== "string" ||
      !UUID.test(jti) ||
      typeof sub !== "string" ||
      sub === "" ||
      typeof iss !== "string" ||
      aud === undefined ||
      typeof iat !== "number" ||
      typeof exp !== "number" ||
      (nbf !== undefined && typeof nbf !== "number") ||
      (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === "string")))
    ) {
      return { valid: false, reason: "missing claims" };
    }
    return { valid: true, claims: { jti, sub, iss, aud, iat, exp, ...(nbf !== undefined ? { nbf } : {}), ...(roles !== undefined ? { roles: roles as string[] } : {}) } };
  }
}

function rejection(error: unknown): TokenRejection {
  if (error instanceof jwt.TokenExpiredError) return "expired";
  if (error instanceof jwt.NotBeforeError) return "not active yet";
  const message = error instanceof Error ? error.message : "";
  // "signature is required": our alg in the header but the signature cut off.
  if (message === "invalid signature" || message === "jwt signature is required") return "invalid signature";
  if (message === "invalid algorithm") return "algorithm not allowed";
  if (message.startsWith("jwt issuer invalid")) return "wrong issuer";
  if (message.startsWith("jwt audience invalid")) return "wrong audience";
  return "malformed";
}

function loadKeys(options: TokenOptions): Keys {
  if (options.algorithm.startsWith("HS")) {
    const secret = options.secret;
    if (!secret) throw new Error(`a secret is required for ${options.algorithm}`);
    if (Buffer.byteLength(secret, "utf8") < 32) throw new Error("the JWT secret must be at least 32 bytes");
    if (options.previousPublicKeys) throw new Error(`previous public keys are for RS256/ES256, not ${options.algorithm}`);
    const alg = options.algorithm;
    // A key object once, not the string: given a string, jsonwebtoken first tries it as a PEM
    // private (or public) key and catches the failure, at every sign and verify.
    const key = createSecretKey(Buffer.from(secret, "utf8"));
    // Our HS* tokens never carry a kid: one that does was not made here.
    return { signing: key, kid: undefined, algorithms: new Set([alg]), verifying: (kid) => (kid === undefined ? { key, alg } : undefined), jwks: [] };
  }
  if (!options.privateKey) throw new Error(`a private key is required for ${options.algorithm}`);
  if (!options.keyId) throw new Error(`a key id is required for ${options.algorithm}`);
  const { privateKey, verification } = parseSigningKey(options.privateKey, options.algorithm as AsymmetricAlgorithm, options.keyId);
  const previous = options.previousPublicKeys ? parsePreviousKeys(options.previousPublicKeys) : [];
  if (previous.some((k) => k.kid === verification.kid)) throw new Error(`JWT_PREVIOUS_PUBLIC_KEYS: kid "${verification.kid}" is the current JWT_KEY_ID`);
  const all: VerificationKey[] = [verification, ...previous];
  const byKid = new Map(all.map((k) => [k.kid, k]));
  return {
    signing: privateKey,
    kid: verification.kid,
    algorithms: new Set(all.map((k) => k.alg)),
    // A token without a kid, or with one we never issued, finds no key.
    verifying: (kid) => (typeof kid === "string" ? byKid.get(kid) : undefined),
    jwks: all.map(toPublicJwk),
  };
}
