import { z } from "zod";
import { Action, type ActionContext, type Fields } from "../src/actions/action.ts";
import { conflict, ok, unauthorized, type ActionResponse } from "../src/actions/responses.ts";
import { authenticate } from "../src/auth/authenticate.ts";
import { OUTER_BOUNDS } from "../src/auth/limits.ts";
import { ACCOUNT_MESSAGES } from "../src/auth/messages.ts";

export class Logout extends Action {
  static override description = "Revoke a token";
  static override schema = z.object({
    jwt: z.string().min(1).max(OUTER_BOUNDS.jwt).describe("Token to revoke"),
  });

  async run(fields: Fields<typeof Logout>, ctx: ActionContext): Promise<ActionResponse> {
    const { revocations } = ctx.services;
    // The revocation list is not consulted here: the insert below tells us, race-free.
    const auth = await authenticate(ctx.services, fields.jwt, { checkRevoked: false });
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
