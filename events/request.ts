/** A call routed to us: run it through the dispatcher and answer with ref = response_ref. */
import { z } from "zod";
import { defineEvent } from "../src/plugboard/event-handler.ts";
import { EVENT } from "../src/plugboard/wire.ts";

export default defineEvent({
  event: EVENT.request,
  // `action` and `fields` are whatever the HTTP caller posted: the dispatcher judges them.
  schema: z.object({ action: z.unknown(), fields: z.unknown(), response_ref: z.string().min(1).max(200) }).passthrough(),
  handle(payload, { outbox, dispatch, frameBytes }) {
    const receivedAt = Date.now();
    const ref = payload.response_ref;
    if (!outbox.begin(ref)) return;
    void dispatch({ action: payload.action as string, fields: payload.fields, response_ref: ref, bytes: frameBytes }).then((answer) =>
      outbox.deliver(ref, answer, receivedAt),
    );
  },
});
