/** A token was deleted; it does not disconnect anyone, we only forget its metadata. */
import { z } from "zod/v4";
import { defineEvent } from "../event-handler.ts";
import { tokenMetaSchema } from "../state.ts";
import { EVENT } from "../wire.ts";

export default defineEvent({
  event: EVENT.tokenDeleted,
  schema: z.object({ token: tokenMetaSchema }).passthrough().transform(({ token }) => ({ token })),
  handle({ token }, { state, log }) {
    state.tokens.delete(token.id);
    log.info({ token_id: token.id, service_id: token.service_id }, "token deleted");
  },
});
