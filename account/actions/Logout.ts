import { z } from "zod/v4";
import { Action, type Fields, conflict, ok, unauthorized, type ActionResponse, type Context } from "vera-service";
import { authenticate, OUTER_BOUNDS, ACCOUNT_MESSAGES, accounts } from "../core.ts";

export class Logout extends Action.with({
  description: "Revoke a token",
  needs: [accounts],
  schema: z.object({
    jwt: z.string().min(1).max(OUTER_BOUNDS.jwt).describe("Token to revoke"),
  }),
}) {
  async run(fields: Fields<typeof Logout>, ctx: Context): Promise<ActionResponse> {
    const { revocations } = ctx.get(accounts);
    // The revocation list is not consulted here: the insert below tells us, race-free.
    const auth = await authenticate(ctx.get(accounts), fields.jwt, { checkRevoked: false });
    if (!auth.ok) {
      // A token cut off by its account's valid-after time was revoked in effect.
      if (auth.reason === "revoked") return conflict(ACCOUNT_MESSAGES.alreadyRevoked);
      return unauthorized(ACCOUNT_MESSAGES.invalidToken(auth.reason));
    }
    const { claims, user } = auth;
    const revoked = await revocations.revoke({ jti: claims.jti, userId: user.id, expiresAt: new Date(claims.exp * 1000) });
    if (!revoked) return conflict(ACCOUNT_MESSAGES.alreadyRevoked);
    ctx.log.info({ event: "token_revoked", user_id: user.id, jti: claims.jti }, "token revoked");
    return ok(ACCOUNT_MESSAGES.revoked);
  }
}
