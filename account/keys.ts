/**
 * Asymmetric token keys (RS256, ES256): the current private key and its kid, the earlier public
 * keys that keep verifying after a rotation (JWT_PREVIOUS_PUBLIC_KEYS), and their JWK form for
 * the Jwks action. Each key is pinned to the one algorithm its type allows, so a token can never
 * choose how it is checked.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { isJsonObject } from "vera-service";

export type AsymmetricAlgorithm = "RS256" | "ES256";

/** A key that verifies tokens whose header names its kid and its algorithm. */
export interface VerificationKey {
  kid: string;
  alg: AsymmetricAlgorithm;
  /** Always a public key: nothing secret can leak from it into the JWKS. */
  key: KeyObject;
}

/** A public JWK as RFC 7517 has it, for signature verification only. */
export interface PublicJwk {
  kty: string;
  use: "sig";
  alg: AsymmetricAlgorithm;
  kid: string;
  [member: string]: string;
}

/** A key setting that cannot be used; the message names the variable, never the key. */
export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyConfigError";
  }
}

/** The public members of each key type; anything else (d, p, q, dp, …) never leaves. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = { RSA: ["n", "e"], EC: ["crv", "x", "y"] };

/** The algorithm a key's type allows: RSA of at least 2048 bits → RS256, EC P-256 → ES256. */
function algorithmOf(key: KeyObject): AsymmetricAlgorithm | undefined {
  if (key.asymmetricKeyType === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return "RS256";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  return undefined;
}

const NEEDED: Record<AsymmetricAlgorithm, string> = { RS256: "an RSA key of at least 2048 bits", ES256: "an EC key on the P-256 curve" };

/** The signing key: JWT_PRIVATE_KEY (PEM) for `algorithm`, with its public half under `kid`. */
export function parseSigningKey(pem: string, algorithm: AsymmetricAlgorithm, kid: string): { privateKey: KeyObject; verification: VerificationKey } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(unescapePem(pem));
  } catch {
    throw new KeyConfigError("JWT_PRIVATE_KEY: not a PEM private key");
  }
  if (algorithmOf(privateKey) !== algorithm) throw new KeyConfigError(`JWT_PRIVATE_KEY: ${algorithm} needs ${NEEDED[algorithm]}`);
  if (kid.trim() === "") throw new KeyConfigError("JWT_KEY_ID: must not be empty");
  return { privateKey, verification: { kid, alg: algorithm, key: createPublicKey(privateKey) } };
}

/**
 * JWT_PREVIOUS_PUBLIC_KEYS: a JSON object `{"<kid>": "<PEM public key>", …}`, or a JWK Set
 * `{"keys": [{"kid": …, "kty": …}, …]}` such as an earlier Jwks answer. Each key's algorithm
 * follows from its type (RSA → RS256, EC P-256 → ES256).
 */
export function parsePreviousKeys(text: string): VerificationKey[] {
  const problem = (detail: string) => new KeyConfigError(`JWT_PREVIOUS_PUBLIC_KEYS: ${detail}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw problem('must be JSON: {"<kid>": "<PEM public key>"} or a JWK Set {"keys": [...]}');
  }
  if (!isJsonObject(parsed)) throw problem("must be a JSON object");
  const entries: Array<[string, () => KeyObject, string | undefined]> = [];
  const keys = (parsed as { keys?: unknown }).keys;
  if (keys !== undefined) {
    if (!Array.isArray(keys)) throw problem('"keys" must be an array of JWKs');
    for (const jwk of keys as unknown[]) {
      if (typeof jwk !== "object" || jwk === null) throw problem("every entry of keys must be a JWK object");
      const { kid, alg } = jwk as { kid?: unknown; alg?: unknown };
      if (typeof kid !== "string" || kid === "") throw problem("every JWK needs a kid");
      entries.push([kid, () => createPublicKey({ key: jwk as JsonWebKey, format: "jwk" }), typeof alg === "string" ? alg : undefined]);
    }
  } else {
    for (const [kid, pem] of Object.entries(parsed)) {
      if (kid === "") throw problem("a kid must not be empty");
      if (typeof pem !== "string") throw problem(`the key of "${kid}" must be a PEM string`);
      entries.push([kid, () => createPublicKey(unescapePem(pem)), undefined]);
    }
  }
  const seen = new Set<string>();
  return entries.map(([kid, load, declared]) => {
    if (seen.has(kid)) throw problem(`kid "${kid}" appears twice`);
    seen.add(kid);
    let key: KeyObject;
    try {
      key = load();
    } catch {
      throw problem(`the key of "${kid}" is not a public key`);
    }
    if (key.type !== "public") key = createPublicKey(key);
    const alg = algorithmOf(key);
    if (!alg) throw problem(`the key of "${kid}" is neither an RSA key of at least 2048 bits nor an EC P-256 key`);
    if (declared !== undefined && declared !== alg) throw problem(`the key of "${kid}" is declared ${declared} but is a ${alg} key`);
    return { kid, alg, key };
  });
}

/** The JWK of a verification key: kty, use "sig", alg, kid and the public members only. */
export function toPublicJwk(entry: VerificationKey): PublicJwk {
  const exported = entry.key.export({ format: "jwk" }) as Record<string, unknown>;
  const kty = String(exported.kty);
  const jwk: PublicJwk = { kty, use: "sig", alg: entry.alg, kid: entry.kid };
  for (const member of PUBLIC_MEMBERS[kty] ?? []) {
    if (typeof exported[member] === "string") jwk[member] = exported[member] as string;
  }
  return jwk;
}

/** Environment files often carry PEM on one line with literal "\\n" sequences; PEM has no backslashes. */
function unescapePem(pem: string): string {
  return pem.replace(/\\n/g, "\n");
}
