/** A token was created for a service; its `value` is a secret and is stripped by the schema. */
import { z } from "zod/v4";
import { defineEvent } from "../event-handler.ts";
import { tokenMetaSchema } from "../state.ts";
import { EVENT } from "../wire.ts";

export default defineEvent({
  event: EVENT.tokenCreated,
  schema: z.object({ token: tokenMetaSchema }).passthrough().transform(({ token }) => ({ token })),
  handle({ token }, { state, log }) {
    state.tokens.set(token.id, token);
    log.info({ token_id: token.id, service_id: token.service_id, context: token.context }, "token created");
  },
});
