import { z } from "zod/v4";
import { Action, type Fields, ok, type ActionResponse, type Context } from "vera-service";
import { authenticate, OUTER_BOUNDS, ACCOUNT_MESSAGES, accounts } from "../core.ts";

/** RFC 7662's answer for any token that is not active: nothing about why. */
const INACTIVE = { active: false } as const;

export class Verify extends Action.with({
  description: "Check a token (RFC 7662 introspection)",
  needs: [accounts],
  schema: z.object({
    jwt: z.string().max(OUTER_BOUNDS.jwt).describe("Token to check"),
  }),
}) {
  /**
   * Fails closed: when the database cannot answer, authenticate() throws DependencyError and the
   * caller gets 503 "Service unavailable", never active: true. Not {active: false} either: that
   * would tell every resource server a valid user is signed out (and some would end the session),
   * while a 503 says "ask again", which the next replica or the next second can answer.
   */
  async run(fields: Fields<typeof Verify>, ctx: Context): Promise<ActionResponse> {
    const auth = await authenticate(ctx.get(accounts), fields.jwt);
    if (!auth.ok) return ok(ACCOUNT_MESSAGES.introspected, INACTIVE);
    const { claims, user } = auth;
    // The roles the token carries (a revoked one has ended the token already), and what they grant now.
    const roles = claims.roles ?? [];
    return ok(ACCOUNT_MESSAGES.introspected, {
      active: true,
      sub: claims.sub,
      jti: claims.jti,
      iat: claims.iat,
      exp: claims.exp,
      ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
      iss: claims.iss,
      aud: claims.aud,
      username: user.username,
      roles,
      permissions: await ctx.get(accounts).roles.permissionsOfRoles(roles),
    });
  }
}
