import { z } from "zod";
import { Action, type ActionContext } from "../src/actions/action.ts";
import { ok, type ActionResponse } from "../src/actions/responses.ts";
import { ACCOUNT_MESSAGES } from "../src/auth/messages.ts";

export class Jwks extends Action {
  static override description =
    "Public keys that verify our tokens (JWK Set)";
  static override schema = z.object({});

  run(_fields: unknown, ctx: ActionContext): ActionResponse {
    return ok(ACCOUNT_MESSAGES.keysListed, { keys: ctx.services.tokens.publicJwks() });
  }
}
