/** A call routed to us: run it through the dispatcher and answer with ref = response_ref. */
import { defineEvent, type PayloadSchema } from "../event-handler.ts";
import { EVENT } from "../wire.ts";

/** What a request carries. `action` and `fields` are whatever the HTTP caller posted: the dispatcher judges them. */
interface RequestPayload {
  action: unknown;
  fields: unknown;
  response_ref: string;
}

const MAX_REF_CHARS = 200;

/** The one thing checked here: a usable response_ref (the client has checked the payload is an object). */
const requestPayload: PayloadSchema<RequestPayload> = {
  safeParse(value) {
    const ref = (value as { response_ref?: unknown }).response_ref;
    if (typeof ref === "string" && ref.length > 0 && ref.length <= MAX_REF_CHARS) return { success: true, data: value as RequestPayload };
    const message = typeof ref === "string" ? `must be 1 to ${MAX_REF_CHARS} characters` : "must be a string";
    return { success: false, error: { issues: [{ path: ["response_ref"], message }] } };
  },
};

export default defineEvent({
  event: EVENT.request,
  schema: requestPayload,
  handle(payload, { answers, dispatch, frameBytes }) {
    const receivedAt = Date.now();
    const ref = payload.response_ref;
    if (!answers.begin(ref)) return;
    dispatch({ action: payload.action, fields: payload.fields, response_ref: ref, bytes: frameBytes }, (answer, text) => answers.deliver(ref, answer, receivedAt, text));
  },
});
