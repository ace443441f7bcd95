/**
 * The plugboard's request side: round-robin over the joined consumers and the map of callers
 * waiting for an answer. The map belongs to the board, not to a socket, so an answer sent after
 * the consumer reconnected and rejoined still finds its caller, as on the Vera Plugboard.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../ops/logger.ts";
import { EVENT, PLUGBOARD_HTTP_MESSAGE } from "../plugboard/wire.ts";
import type { ConsumerConnection } from "./connection.ts";
import { isJsonObject } from "../json.ts";
import { flatPayload } from "../actions/responses.ts";

/** What the HTTP caller gets: a status code and a JSON body. */
export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** How a call ended: the consumer's payload, or the plugboard's own answer (422, 408, 503). */
export type CallResult = { answered: true; payload: unknown } | { answered: false; answer: HttpAnswer };

interface PendingCall {
  resolve(result: CallResult): void;
  timer: NodeJS.Timeout;
  /**
   * When the board registers the waiting caller (performance.now(); RouterFaults.registrationDelayMs
   * after the push): an answer that arrives sooner is dropped. A time rather than a timer, so a
   * starved event loop that reads the answer before it runs a due timer does not drop it.
   */
  registersAt: number;
}

/**
 * Two defects of the Vera Plugboard (seen at b6f96f3, docs/protocol.md), off by default, for
 * tests to hold the consumer's answers to them:
 * - registrationDelayMs: the board pushes a request first and registers its waiting caller this
 *   long after; an answer that comes back sooner is dropped, and the caller hears 408;
 * - staleRoundRobin: the round-robin position is kept modulo the consumer count of the last
 *   request; after a consumer leaves it can point past the end of the list, and that request is
 *   thrown away (408 at the timeout).
 */
export interface RouterFaults {
  registrationDelayMs: number;
  staleRoundRobin: boolean;
}

export interface RouterOptions {
  /** The consumers currently joined to `service`, in a stable order. */
  joined(): ConsumerConnection[];
  timeoutMs: number;
  /** How long a routed request takes to reach its channel (0: at once); one whose channel left meanwhile is lost. */
  transitMs?: number;
  log: Logger;
}

/** An answer the board gives itself, in the plugboard's error shape `{status: "error", message}`. */
export const errorAnswer = (status: number, message: string): HttpAnswer => ({ status, body: { status: "error", message } });

const errorResult = (status: number, message: string): CallResult => ({ answered: false, answer: errorAnswer(status, message) });

/**
 * The HTTP status the plugboard gives a consumer's answer: its `status_code` when that is a
 * usable final status, else what the Vera Plugboard derives from `status`. 1xx codes are not
 * final responses over HTTP (a client would wait for another), so they fall through as well.
 */
export function httpStatusOf(payload: unknown): number {
  if (!isJsonObject(payload)) return 502;
  const code = payload.status_code;
  if (typeof code === "number" && Number.isInteger(code) && code >= 200 && code <= 599) return code;
  if (!("status" in payload)) return 502;
  return payload.status === "success" ? 200 : 400;
}

/** The `full` answer to a consumer's payload: the status it implies, the payload as the body. */
export function fullAnswer(payload: unknown): HttpAnswer {
  const flat = flatPayload(payload);
  return { status: httpStatusOf(flat), body: flat };
}

export class RequestRouter {
  private readonly pending = new Map<string, PendingCall>();
  private turn = 0;
  readonly faults: RouterFaults = { registrationDelayMs: 0, staleRoundRobin: false };
  /** Calls lost to the faults above. */
  readonly lost = { answeredTooSoon: 0, pastTheEnd: 0 };

  constructor(private readonly options: RouterOptions) {}

  /** The next consumer in turn; undefined when the (stale) position points past the end of the list. */
  private next(consumers: ConsumerConnection[]): ConsumerConnection | undefined {
    if (!this.faults.staleRoundRobin) return consumers[this.turn++ % consumers.length];
    const at = this.turn;
    this.turn = (at + 1) % consumers.length;
    if (at < consumers.length) return consumers[at];
    this.turn = 0;
    return undefined;
  }

  /** How many callers are waiting for an answer. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Pushes a `request` to the next joined consumer and waits for its answer or the timeout. */
  route(action: string, fields: unknown, timeoutMs = this.options.timeoutMs): Promise<CallResult> {
    const consumers = this.options.joined();
    if (consumers.length === 0) return Promise.resolve(errorResult(422, PLUGBOARD_HTTP_MESSAGE.noConsumers));
    const consumer = this.next(consumers);
    const responseRef = randomUUID();
    return new Promise<CallResult>((resolve) => {
      const timer = setTimeout(() => this.expire(responseRef), timeoutMs);
      const call: PendingCall = { resolve, timer, registersAt: this.faults.registrationDelayMs <= 0 ? 0 : Infinity };
      this.pending.set(responseRef, call);
      if (!consumer) {
        this.lost.pastTheEnd++;
        this.options.log.debug({ action, response_ref: responseRef }, "request thrown away: the round-robin position was past the end of the consumers");
        return;
      }
      this.options.log.debug({ action, response_ref: responseRef, consumer: consumer.id }, "request pushed");
      const push = () => {
        if (this.faults.registrationDelayMs > 0) call.registersAt = performance.now() + this.faults.registrationDelayMs;
        consumer.push(EVENT.request, { action, fields, response_ref: responseRef });
      };
      const transitMs = this.options.transitMs ?? 0;
      if (transitMs <= 0) return push();
      // As on the Vera Plugboard: a request routed to a channel that leaves or dies before it gets
      // there is lost inside the plugboard; its caller hears 408 at the timeout (docs/protocol.md).
      const joinRef = consumer.joinRef;
      setTimeout(() => {
        if (consumer.joined && consumer.joinRef === joinRef) push();
        else this.options.log.debug({ response_ref: responseRef, consumer: consumer.id }, "request lost in transit: the channel left");
      }, transitMs);
    });
  }

  /** Resolves the caller waiting on `ref`; a repeated or unknown ref is ignored (returns false). */
  answer(ref: string, payload: unknown): boolean {
    const call = this.pending.get(ref);
    if (!call || performance.now() < call.registersAt) {
      if (call) this.lost.answeredTooSoon++;
      this.options.log.debug({ response_ref: ref }, "answer for no waiting caller ignored");
      return false;
    }
    this.settle(ref, call, { answered: true, payload });
    return true;
  }

  /** Answers every waiting caller at once (the board is stopping). */
  failAll(status: number, message: string): void {
    for (const [ref, call] of this.pending) this.settle(ref, call, errorResult(status, message));
  }

  private expire(ref: string): void {
    const call = this.pending.get(ref);
    if (!call) return;
    this.options.log.info({ response_ref: ref }, "request timed out");
    this.settle(ref, call, errorResult(408, PLUGBOARD_HTTP_MESSAGE.timedOut));
  }

  private settle(ref: string, call: PendingCall, result: CallResult): void {
    clearTimeout(call.timer);
    this.pending.delete(ref);
    call.resolve(result);
  }
}
