/**
 * The sign-in guard, a middleware like any other (src/actions/middleware.ts). An action that
 * lists `signedIn` in `use` gets a required `jwt` field in its published schema, and the token is
 * checked before `run`: signature and claims, account alive, issued after the account's
 * valid-after time, not revoked. `run` then finds the account in `ctx.user` and the token's
 * claims in `ctx.claims` (typed: `Context<SignedIn>`); otherwise the caller gets
 * `401 "Invalid token: <reason>"` and `run` never starts.
 */
import { z } from "zod";
import type { Context } from "vera-service";
import { middleware } from "vera-service";
import { unauthorized } from "vera-service";
import type { User } from "./schema.ts";
import { accounts } from "./accounts.ts";
import { authenticate } from "./authenticate.ts";
import { OUTER_BOUNDS } from "./limits.ts";
import { ACCOUNT_MESSAGES } from "./messages.ts";
import type { TokenClaims } from "./tokens.ts";

/** The field a guarded action receives its token in. */
export const JWT_FIELD = "jwt";

/** What the guard adds to the context. */
export interface SignedIn {
  /** The signed-in account (the whole row: never answer it as is). */
  user: User;
  /** The verified claims of its token (jti, sub, iat, exp, …). */
  claims: TokenClaims;
}

/** The context of an action behind the guard. */
export type SignedInContext = Context<SignedIn>;

export const signedIn = middleware<SignedIn>({
  name: "signedIn",
  fields: { [JWT_FIELD]: z.string().min(1).max(OUTER_BOUNDS.jwt).describe("Your token") },
  needs: [accounts],
  async handle({ fields, ctx }, next) {
    const auth = await authenticate(ctx.get(accounts), String(fields[JWT_FIELD]));
    if (!auth.ok) return unauthorized(ACCOUNT_MESSAGES.invalidToken(auth.reason));
    return next({ user: auth.user, claims: auth.claims });
  },
});
