/** Our service changed (name, …). Events of child services arrive too: compare ids. */
import { z } from "zod/v4";
import { defineEvent } from "../event-handler.ts";
import { serviceSchema } from "../state.ts";
import { EVENT } from "../wire.ts";

export default defineEvent({
  event: EVENT.serviceUpdated,
  schema: z.object({ service: serviceSchema }).passthrough(),
  handle(payload, { state, log }) {
    if (!state.isOurService(payload.service.id)) {
      log.debug({ service_id: payload.service.id }, "service_updated for another service ignored");
      return;
    }
    state.service = payload.service;
    log.info({ service_id: payload.service.id, service_name: payload.service.name }, "service updated");
  },
});
