/**
 * Signing a token for an existing account so that the valid-after rule (issuedBefore in
 * account/authenticate.ts) holds both ways:
 * - never within the second of the account's cut-off: `iat` has whole seconds only and every
 *   token of that second is refused, so a login or password change landing there waits for the
 *   next second (at most about a second, and only right after a change);
 * - never for a password that stopped being the password meanwhile: the row is read again after
 *   signing, and if its cut-off moved (a password change or deletion happened while bcrypt was
 *   comparing the old password), the token is dropped. A change after that re-read has a cut-off
 *   second ≥ the token's iat, so the rule refuses the token by itself.
 */
import type { Roles } from "./roles.ts";
import { setTimeout as sleep } from "node:timers/promises";
import type { User } from "./schema.ts";
import type { Users } from "./users.ts";
import { cutoffSecond } from "./authenticate.ts";
import type { Lifetime, TokenClaims, Tokens } from "./tokens.ts";

/** Longer than one second plus the clock differences of healthy replicas. */
const MAX_WAIT_MS = 2500;

export type Minted = { jwt: string; claims: TokenClaims };

/**
 * Signs a token for `user` (the row the caller authorized against); undefined when the account
 * changed its cut-off or was deleted since that row was read.
 */
export async function mintToken(
  deps: { tokens: Tokens; users: Users; roles: Roles },
  user: Pick<User, "id" | "tokens_valid_after">,
  lifetime: Lifetime,
  signal?: AbortSignal,
): Promise<Minted | undefined> {
  const { tokens, users } = deps;
  const cutoff = cutoffSecond(user.tokens_valid_after);
  if (cutoff !== undefined) {
    const giveUpAt = Date.now() + MAX_WAIT_MS;
    while (tokens.currentTime() <= cutoff) {
      // A cut-off this far ahead means this replica's clock is behind the one that set it:
      // a token minted now would be refused at once, so say so instead.
      if (Date.now() >= giveUpAt) throw new Error(`clock behind account ${user.id}'s token cut-off (second ${cutoff}); check NTP`);
      await sleep(Math.max(5, 1000 - (Date.now() % 1000)), undefined, signal ? { signal } : undefined);
    }
  }
  // The roles at minting go into the token: other services read them without calling back. A
  // role granted later shows at the next login; one revoked later ends this token (account/roles.ts).
  const token = tokens.sign(String(user.id), lifetime, await deps.roles.rolesOf(user.id));
  const now = await users.findById(user.id);
  if (!now || now.deleted_at !== null || now.tokens_valid_after?.getTime() !== user.tokens_valid_after?.getTime()) return undefined;
  return token;
}
