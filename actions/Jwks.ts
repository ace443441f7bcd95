import { z } from "zod";
import { Action, type ActionContext } from "../src/actions/action.ts";
import { ok, type ActionResponse } from "../src/actions/responses.ts";
import { ACCOUNT_MESSAGES } from "../src/auth/messages.ts";

export class Jwks extends Action {
  static override description =
    "The public keys that verify our tokens, as a JWK Set {keys: [...]} (RS256/ES256: the current key and earlier ones still in use; HS*: none).";
  static override schema = z.object({});

  run(_fields: unknown, ctx: ActionContext): ActionResponse {
    return ok(ACCOUNT_MESSAGES.keysListed, { keys: ctx.services.tokens.publicJwks() });
  }
}
