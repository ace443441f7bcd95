/** How many consumers of our service are joined; sent on every join, leave and crash. */
import { z } from "zod/v4";
import { defineEvent } from "../event-handler.ts";
import { EVENT } from "../wire.ts";

export default defineEvent({
  event: EVENT.numConsumers,
  schema: z.object({ num_consumers: z.number().int().nonnegative() }).passthrough(),
  handle(payload, { state, log }) {
    if (state.numConsumers !== payload.num_consumers) log.info({ num_consumers: payload.num_consumers }, "consumer count changed");
    state.numConsumers = payload.num_consumers;
  },
});
