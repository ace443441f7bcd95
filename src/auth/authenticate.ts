/**
 * "Is this a token of ours for a live account?" in one place: signature and claims
 * (src/auth/tokens.ts), then the account (exists, not deleted, token issued after its
 * valid-after time), then the revocation list. Logout uses it, and so will Verify and the
 * signed-in-user guard of later actions.
 */
import type { User } from "../db/schema.ts";
import type { Users } from "../db/users.ts";
import type { Revocations } from "../db/revocations.ts";
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
 * iat has whole-second precision; the valid-after time is cut to the second too, so a token
 * minted in the same second as (just after) a password change still works. A token minted in
 * that second just *before* the change also survives: the price of second-precision claims.
 */
export function issuedBefore(iat: number, validAfter: Date | null): boolean {
  return validAfter !== null && iat < Math.floor(validAfter.getTime() / 1000);
}
