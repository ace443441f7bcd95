/** The ok reply to our `service` join: who we are serving, with which token, beside how many. */
import { z } from "zod/v4";
import { JOIN_REPLY, defineEvent } from "../event-handler.ts";
import { serviceSchema, tokenMetaSchema } from "../state.ts";

export default defineEvent({
  event: JOIN_REPLY,
  schema: z
    .object({
      service: serviceSchema,
      token: tokenMetaSchema.optional(),
      num_consumers: z.number().int().nonnegative().optional(),
    })
    .passthrough(),
  handle(payload, { state, log }) {
    state.service = payload.service;
    state.token = payload.token;
    state.numConsumers = payload.num_consumers;
    log.info(
      { service_id: payload.service.id, service_name: payload.service.name, token_id: payload.token?.id, num_consumers: payload.num_consumers },
      "joined the plugboard",
    );
  },
});
