/**
 * Signing a token for an existing account so that the valid-after rule (issuedBefore in
 * account/authenticate.ts) holds both ways:
 * - never within the second of the account's cut-off: `iat` has whole seconds only and every
 *   token of that second is refused, so a login or password change landing there waits for the
 *   next second (at most about a second, and only right after a change);
 * - never for a password that stopped being the password meanwhile: the row is read again after
 *   signing, and if its cut-off moved because the password changed or the account was deleted
 *   (while bcrypt was comparing the old password), the token is dropped. A change after that
 *   re-read has a cut-off second ≥ the token's iat, so the rule refuses the token by itself.
 * - a cut-off that moved for another reason (a role revoked meanwhile ends the account's older
 *   tokens) is waited out again and the token signed anew, with the roles held now: the password
 *   was right, so the caller still gets a token.
 */
import type { Roles } from "./roles.ts";
import { setTimeout as sleep } from "node:timers/promises";
import type { User } from "./schema.ts";
import type { Users } from "./users.ts";
import { cutoffSecond } from "./authenticate.ts";
import type { Lifetime, TokenClaims, Tokens } from "./tokens.ts";

/** Longer than one second plus the clock differences of healthy replicas. */
const MAX_WAIT_MS = 2500;

/** Cut-offs moved by role revocations that a login signs again after, before it gives up. */
const MAX_RESIGNS = 3;

export type Minted = { jwt: string; claims: TokenClaims };

/**
 * Signs a token for `user` (the row the caller authorized against); undefined when the account's
 * password changed or it was deleted since that row was read (the caller signs in again).
 */
export async function mintToken(
  deps: { tokens: Tokens; users: Users; roles: Roles },
  user: Pick<User, "id" | "tokens_valid_after" | "password_digest">,
  lifetime: Lifetime,
  signal?: AbortSignal,
): Promise<Minted | undefined> {
  let row = user;
  for (let signed = 0; signed <= MAX_RESIGNS; signed++) {
    await waitPastCutoff(deps.tokens, row, signal);
    // The roles at minting go into the token: other services read them without calling back. A
    // role granted later shows at the next login; one revoked later ends this token (account/roles.ts).
    const token = deps.tokens.sign(String(row.id), lifetime, await deps.roles.rolesOf(row.id));
    const now = await deps.users.findById(row.id);
    if (!now || now.deleted_at !== null) return undefined;
    if (now.tokens_valid_after?.getTime() === row.tokens_valid_after?.getTime()) return token;
    // A password change moves the cut-off with the digest (a rehash at login moves the digest only).
    if (now.password_digest !== row.password_digest) return undefined;
    row = now;
  }
  return undefined;
}

/** Waits until the clock is past the second of the account's cut-off (at most about a second). */
async function waitPastCutoff(tokens: Tokens, user: Pick<User, "id" | "tokens_valid_after">, signal?: AbortSignal): Promise<void> {
  const cutoff = cutoffSecond(user.tokens_valid_after);
  if (cutoff === undefined) return;
  const giveUpAt = Date.now() + MAX_WAIT_MS;
  while (tokens.currentTime() <= cutoff) {
    // A cut-off this far ahead means this replica's clock is behind the one that set it:
    // a token minted now would be refused at once, so say so instead.
    if (Date.now() >= giveUpAt) throw new Error(`clock behind account ${user.id}'s token cut-off (second ${cutoff}); check NTP`);
    await sleep(Math.max(5, 1000 - (Date.now() % 1000)), undefined, signal ? { signal } : undefined);
  }
}
