import { z } from "zod/v4";
import { Action, ok, type ActionResponse, type Context, type Fields } from "vera-service";
import { ACCOUNT_MESSAGES, accounts } from "../core.ts";

export class Jwks extends Action.with({
  description: "Public keys that verify our tokens (JWK Set)",
  needs: [accounts],
  schema: z.object({}),
}) {
  run(_fields: Fields<typeof Jwks>, ctx: Context): ActionResponse {
    return ok(ACCOUNT_MESSAGES.keysListed, { keys: ctx.get(accounts).tokens.publicJwks() });
  }
}
