/**
 * "Is this a token of ours for a live account?" in one place: signature and claims
 * (account/tokens.ts), then the account (exists, not deleted, token issued after its
 * valid-after time), then the revocation list. Logout, Verify and the signed-in-user guard
 * (account/guard.ts) use it.
 */
import type { User } from "./schema.ts";
import type { Users } from "./users.ts";
import type { Revocations } from "./revocations.ts";
import type { TokenClaims, TokenRejection, Tokens } from "./tokens.ts";

/** Why a token is refused; shown to the caller as `Invalid token: <reason>`. */
export type AuthRejection = TokenRejection | "unknown account" | "revoked";

export type Authenticated = { ok: true; claims: TokenClaims; user: User } | { ok: false; reason: AuthRejection; claims?: TokenClaims };

export interface AuthenticateDeps {
  tokens: Tokens;
  users: Users;
  revocations: Revocations;
}

/**
 * Checks a token completely. With `checkRevoked: false` the revocation list is left to the
 * caller (Logout revokes and learns from the insert whether it was revoked already).
 */
export async function authenticate(deps: AuthenticateDeps, token: string, options: { checkRevoked?: boolean } = {}): Promise<Authenticated> {
  const verified = deps.tokens.verify(token);
  if (!verified.valid) return { ok: false, reason: verified.reason };
  const { claims } = verified;
  const id = /^[1-9][0-9]{0,9}$/.test(claims.sub) ? Number(claims.sub) : NaN;
  const user = Number.isSafeInteger(id) && id <= 2_147_483_647 ? await deps.users.findById(id) : undefined;
  if (!user || user.deleted_at !== null) return { ok: false, reason: "unknown account", claims };
  if (issuedBefore(claims.iat, user.tokens_valid_after)) return { ok: false, reason: "revoked", claims };
  if (options.checkRevoked !== false && (await deps.revocations.isRevoked(claims.jti))) return { ok: false, reason: "revoked", claims };
  return { ok: true, claims, user };
}

/**
 * The valid-after rule. `iat` has whole seconds only, so a token minted in the very second of a
 * password change or deletion cannot tell whether it came before or after it: every token of
 * that second is refused (iat ≤ the cut-off second), and the service never mints a token for an
 * account within its cut-off second (account/mint.ts waits for the next one). Both hold then:
 * a token minted before the change never works again, and a token minted after it always does.
 */
export function issuedBefore(iat: number, validAfter: Date | null): boolean {
  const cutoff = cutoffSecond(validAfter);
  return cutoff !== undefined && iat <= cutoff;
}

/** The last second whose tokens an account refuses, or undefined when it has no cut-off. */
export function cutoffSecond(validAfter: Date | null): number | undefined {
  return validAfter === null ? undefined : Math.floor(validAfter.getTime() / 1000);
}
