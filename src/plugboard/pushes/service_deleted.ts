/** Our service was deleted on the plugboard: nothing left to serve, so stop with an error code. */
import { EXIT_CODE } from "../../ops/exit-codes.ts";
import { z } from "zod/v4";
import { defineEvent } from "../event-handler.ts";
import { serviceSchema } from "../state.ts";
import { EVENT } from "../wire.ts";


export default defineEvent({
  event: EVENT.serviceDeleted,
  schema: z.object({ service: serviceSchema }).passthrough(),
  handle(payload, { state, log, stop }) {
    if (!state.isOurService(payload.service.id)) {
      log.debug({ service_id: payload.service.id }, "service_deleted for another service ignored");
      return;
    }
    stop(`the plugboard deleted this service (id ${payload.service.id}): stopping`, EXIT_CODE.serviceDeleted);
  },
});
