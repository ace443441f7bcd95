import { z } from "zod/v4";
import { Action, type Fields, conflict, ok, unauthorized, type ActionResponse } from "vera-service";
import { confirmPassword, OUTER_BOUNDS, ACCOUNT_MESSAGES, accounts, signedIn, type SignedInContext } from "../core.ts";

export class Delete extends Action.with({
  description: "Delete your account; its tokens stop working",
  use: [signedIn],
  schema: z.object({
    password: z.string().min(1).max(OUTER_BOUNDS.password).describe("Your password"),
  }),
}) {
  async run(fields: Fields<typeof Delete>, ctx: SignedInContext): Promise<ActionResponse> {
    const refused = await confirmPassword(ctx, fields.password, "password");
    if (refused) return refused;
    // Soft delete: the row stays, its identifiers leave the live-account unique indexes, and its
    // cut-off time refuses every token issued so far (deleted_at alone would do; both say it).
    const deleted = await ctx.get(accounts).users.softDelete(ctx.user.id, new Date(), { keepAStarHolder: true });
    if (deleted === "last holder of *") return conflict(ACCOUNT_MESSAGES.lastStarHolder);
    if (!deleted) return unauthorized(ACCOUNT_MESSAGES.invalidToken("unknown account"));
    ctx.log.info({ event: "user_deleted", user_id: ctx.user.id, jti: ctx.claims.jti }, "user deleted");
    return ok(ACCOUNT_MESSAGES.deleted);
  }
}
