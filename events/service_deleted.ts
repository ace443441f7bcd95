/** Our service was deleted on the plugboard: nothing left to serve, so stop with an error code. */
import { EXIT_CODE } from "../src/ops/exit-codes.ts";
import { z } from "zod";
import { defineEvent } from "../src/plugboard/event-handler.ts";
import { serviceSchema } from "../src/plugboard/state.ts";
import { EVENT } from "../src/plugboard/wire.ts";


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
