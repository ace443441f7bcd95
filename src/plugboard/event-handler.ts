/**
^ * The shape of a handler in pushes/: one plugboard event, a zod schema of its payload, and
 * what to do with a payload that passed it. The client validates; handlers see typed data.
 */
import type { Logger } from "../ops/logger.ts";
import type { AnswerPayload } from "../actions/responses.ts";
import type { Request } from "../actions/dispatcher.ts";
import type { Answers } from "./answers.ts";
import type { PlugboardState } from "./state.ts";

export interface EventContext {
  /** UTF-8 size of the frame whose event is being handled. */
  readonly frameBytes: number;
  log: Logger;
  state: PlugboardState;
  answers: Answers;
  /** Answers a request: `done` is called once with the answer and its wire text, perhaps before dispatch returns (src/actions/dispatcher.ts answer). */
  dispatch(request: Request, done: (answer: AnswerPayload, text: string) => void): void;
  /** Stops serving for good (e.g. our service was deleted); the process exits with exitCode. */
  stop(reason: string, exitCode: number): void;
}

/**
 * What checks an event's payload: a zod schema, or anything shaped like zod's safeParse (the
 * request event's check is written out by hand: it runs for every request, and zod's object
 * parse was a measurable share of a cheap one).
 */
export interface PayloadSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

export interface EventHandler<T = unknown> {
  /** The wire event name, or JOIN_REPLY for the ok reply to our join. */
  event: string;
  schema: PayloadSchema<T>;
  handle(payload: T, ctx: EventContext): void;
}

/** Pseudo-event name of the ok reply to the `service` join (a phx_reply, not a push). */
export const JOIN_REPLY = "join_reply";

export function defineEvent<T>(handler: EventHandler<T>): EventHandler {
  return handler as EventHandler;
}
