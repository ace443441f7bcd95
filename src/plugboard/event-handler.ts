/**
 * The shape of a handler in events/: one plugboard event, a zod schema of its payload, and
 * what to do with a payload that passed it. The client validates; handlers see typed data.
 */
import type { z } from "zod";
import type { Logger } from "../ops/logger.ts";
import type { AnswerPayload } from "../actions/responses.ts";
import type { Request } from "../actions/dispatcher.ts";
import type { Outbox } from "./outbox.ts";
import type { PlugboardState } from "./state.ts";

export interface EventContext {
  /** UTF-8 size of the frame whose event is being handled. */
  readonly frameBytes: number;
  log: Logger;
  state: PlugboardState;
  outbox: Outbox;
  dispatch(request: Request): Promise<AnswerPayload>;
  /** Stops serving for good (e.g. our service was deleted); the process exits with exitCode. */
  stop(reason: string, exitCode: number): void;
}

export interface EventHandler<S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** The wire event name, or JOIN_REPLY for the ok reply to our join. */
  event: string;
  schema: S;
  handle(payload: z.infer<S>, ctx: EventContext): void;
}

/** Pseudo-event name of the ok reply to the `service` join (a phx_reply, not a push). */
export const JOIN_REPLY = "join_reply";

export function defineEvent<S extends z.ZodTypeAny>(handler: EventHandler<S>): EventHandler<S> {
  return handler;
}
