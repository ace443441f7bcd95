/**
 * Turns one plugboard request into one answer: finds the action, validates its fields, runs
 * it within the concurrency bound and its deadline, and maps every outcome to a status code.
 * It never throws and never answers twice.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../ops/logger.ts";
import type { ProviderHost } from "../providers.ts";
import type { Middleware } from "./middleware.ts";
import type { BaseContext } from "./action.ts";
import { extendContext, RequestContext } from "./request-context.ts";
import { parseWith } from "../schema/parse.ts";
import { Slots } from "./slots.ts";
import { Deadlines, type Deadline } from "./deadlines.ts";
import type { ServiceCaller } from "../calls/caller.ts";
import type { Registry, RegisteredAction } from "./registry.ts";
import {
  ActionError,
  DependencyError,
  DEFAULT_MESSAGE_FORMAT,
  MESSAGES,
  OverloadedError,
  answerText,
  answerTooLarge,
  exceedsBytes,
  internalError,
  isSuccess,
  notFound,
  payloadTooLarge,
  timedOut,
  toAnswer,
  unavailable,
  type ActionResponse,
  type AnswerPayload,
  type MessageFormat,
} from "./responses.ts";
import { invalidFieldsAnswer, validateFields } from "./validation.ts";

export interface Request {
  /** Whatever the caller sent as the action's name: not always a string. */
  action: unknown;
  fields: unknown;
  response_ref: string;
  /** UTF-8 size of the frame that carried the request, when it came over the wire. */
  bytes?: number;
}

/** Told about every answer, for metrics. */
export interface DispatchObserver {
  answered?(action: unknown, statusCode: number, durationMs: number): void;
  queueChanged?(inFlight: number, queued: number): void;
}

export interface DispatcherOptions {
  registry: Registry;
  /** What actions read with ctx.get. */
  providers: ProviderHost;
  /** Check each success against the action's output schema (outside production); a mismatch answers 500. */
  checkOutputs?: boolean;
  log: Logger;
  maxConcurrency: number;
  queueLimit: number;
  actionTimeoutMs: number;
  /** Larger requests get 413 before anything else is looked at (default 64 KiB). */
  maxRequestBytes?: number;
  /** Larger answers are replaced by a small 500 (default 1 MiB). */
  maxAnswerBytes?: number;
  /** How answers are encoded for the wire (MESSAGE_FORMAT, default text): measured in that form. */
  messageFormat?: MessageFormat;
  observer?: DispatchObserver;
  /** What ctx.call sends through (src/calls/caller.ts); without it ctx.call fails with CallsNotConfiguredError. */
  caller?: ServiceCaller;
}

/** The dispatcher's limits as the configuration sets them: the App's and the test kit's alike. */
export function configuredLimits(config: Readonly<Config>): Pick<DispatcherOptions, "maxConcurrency" | "queueLimit" | "actionTimeoutMs" | "maxRequestBytes" | "maxAnswerBytes" | "messageFormat"> {
  const { maxConcurrency, queueLimit, actionTimeoutMs, maxRequestBytes, maxAnswerBytes, messageFormat } = config;
  return { maxConcurrency, queueLimit, actionTimeoutMs, maxRequestBytes, maxAnswerBytes, messageFormat };
}

const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;
const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;

interface Job {
  action: RegisteredAction;
  fields: unknown;
  /** Each middleware's own fields, in `use` order (validateFields split them). */
  middlewareFields: ReadonlyArray<Record<string, unknown>>;
  ref: string;
  receivedAt: number;
  resolve(answer: ActionResponse): void;
}

export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly queue: Job[] = [];
  /** The MAX_CONCURRENCY places, and the requests parked outside theirs (ctx.withoutSlot). */
  private readonly slots: Slots;
  /** next() is starting queued jobs; a call from inside it sets lookAgain instead. */
  private starting = false;
  private lookAgain = false;
  private draining = false;
  private idleWaiters: Array<() => void> = [];
  private readonly deadlines = new Deadlines();
  /** The contexts of the running actions, aborted together on a hard stop. */
  private readonly contexts = new Set<RequestContext>();

  constructor(options: DispatcherOptions) {
    this.options = { ...options };
    this.slots = new Slots(options.maxConcurrency, () => this.next());
  }

  /** New requests are served by `registry` from now on; running and queued ones finish as they started (the dev loop). */
  useRegistry(registry: Registry): void {
    this.options.registry = registry;
  }

  /** Requests started and not answered: running, or parked outside their slot. */
  get inFlight(): number {
    return this.slots.inFlight;
  }

  get queued(): number {
    return this.queue.length;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Answers one request; resolves with the wire payload, never rejects. The payload is encoded
   * here once (src/actions/responses.ts answerText) and held to maxAnswerBytes, so no request
   * can make this replica send a frame the plugboard refuses.
   */
  dispatch(request: Request): Promise<AnswerPayload> {
    return new Promise((resolve) => this.answer(request, (payload) => resolve(payload)));
  }

  /**
   * dispatch() as a callback: `done` is called exactly once with the wire payload and its text in
   * MESSAGE_FORMAT (encoded once, here) — at once when the answer is known at once (404, 400, a
   * synchronous action), else when the action's promise settles. The plugboard client's path: no
   * promise is made for the request itself.
   */
  answer(request: Request, done: (payload: AnswerPayload, text: string) => void): void {
    const started = performance.now();
    let replied = false;
    const reply = (response: ActionResponse) => {
      if (replied) return;
      replied = true;
      const { payload, text } = this.encodable(request, toAnswer(response));
      this.options.observer?.answered?.(request.action, payload.status_code, performance.now() - started);
      done(payload, text);
    };
    try {
      this.respond(request, reply);
    } catch (error) {
      // respond() is meant not to throw; if it ever does, the caller still gets an answer.
      if (replied) throw error;
      this.options.log.error({ err: error, response_ref: request.response_ref }, "dispatch failed");
      reply(internalError());
    }
  }

  /** The payload itself and its wire text, or a small 500's when it cannot be encoded or is too large to send. */
  private encodable(request: Request, payload: AnswerPayload): { payload: AnswerPayload; text: string } {
    const limit = this.options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    const format = this.options.messageFormat ?? DEFAULT_MESSAGE_FORMAT;
    const instead = (response: ActionResponse) => {
      const replaced = toAnswer(response);
      return { payload: replaced, text: answerText(replaced, format) };
    };
    let text: string;
    try {
      text = answerText(payload, format);
    } catch (error) {
      this.options.log.error({ err: error, action: printable(request.action), response_ref: request.response_ref }, "the answer cannot be encoded as JSON");
      return instead(internalError());
    }
    if (!exceedsBytes(text, limit)) return { payload, text };
    this.options.log.error(
      { action: printable(request.action), response_ref: request.response_ref, status_code: payload.status_code, bytes: Buffer.byteLength(text), limit },
      "answer larger than MAX_ANSWER_BYTES: replaced by a 500",
    );
    return instead(answerTooLarge());
  }

  private respond(request: Request, reply: (response: ActionResponse) => void): void {
    const maxRequestBytes = this.options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    if (request.bytes !== undefined && request.bytes > maxRequestBytes) return reply(payloadTooLarge(maxRequestBytes));
    const action = typeof request.action === "string" ? this.options.registry.get(request.action) : undefined;
    if (!action) return reply(notFound(MESSAGES.unknownAction(printable(request.action))));

    const validated = validateFields(action.validator, request.fields);
    if (!validated.ok) return reply(invalidFieldsAnswer(validated.errors, validated.omitted));

    if (this.slots.full && this.queue.length >= this.options.queueLimit) {
      this.options.log.warn({ action: action.name, response_ref: request.response_ref }, "queue full: request refused");
      return reply(unavailable(MESSAGES.overloaded));
    }
    const job: Job = { action, fields: validated.data, middlewareFields: validated.middleware, ref: request.response_ref, receivedAt: Date.now(), resolve: reply };
    if (!this.slots.full && hasRoom(action)) this.start(job);
    else this.queue.push(job);
    this.options.observer?.queueChanged?.(this.inFlight, this.queue.length);
  }

  /**
   * Runs a job in a slot; the slot is freed at the answer or at the deadline, whichever is first.
   * While the action waits in a queue of its own (ctx.withoutSlot) it holds no slot, and counts
   * as parked instead: still in flight, not answered.
   */
  private start(job: Job): void {
    // The deadline counts from arrival, so time spent queued counts too: the plugboard's
    // caller waits 30 s at most, whatever the reason. A job already past it never runs.
    const timeoutMs = job.action.timeoutMs ?? this.options.actionTimeoutMs;
    const waited = Date.now() - job.receivedAt;
    if (waited >= timeoutMs) {
      job.resolve(timedOut());
      return;
    }
    const slot = this.slots.take();
    job.action.running++;
    let settled = false;
    let deadline: Deadline | undefined;
    const finish = (response: ActionResponse) => {
      if (settled) return;
      settled = true;
      deadline?.cancel();
      this.contexts.delete(ctx);
      slot.settle();
      job.action.running--;
      job.resolve(response);
      this.next();
    };
    const ctx = new RequestContext(this.options.log, job.action.name, job.ref, this.options.providers, job.action.declared, job.receivedAt + timeoutMs, this.options.caller, slot);
    this.contexts.add(ctx);

    let result: unknown;
    try {
      result = job.action.middleware.length === 0 ? job.action.instance.run(job.fields as never, ctx as never) : this.behindMiddleware(job, ctx);
    } catch (error) {
      return finish(this.classify(error, ctx));
    }
    // A synchronous action has answered already: no deadline to keep.
    if (!isThenable(result)) return finish(this.checked(job.action, result, ctx));

    deadline = this.deadlines.add(job.receivedAt + timeoutMs, () => {
      ctx.abort(new Error("action deadline passed"));
      this.options.log.warn({ action: job.action.name, response_ref: job.ref }, "action timed out");
      finish(timedOut());
    });
    try {
      result.then(
        (response) => finish(this.checked(job.action, response, ctx)),
        (error: unknown) => finish(this.classify(error, ctx)),
      );
    } catch (error) {
      finish(this.classify(error, ctx)); // a thenable whose then() throws
    }
  }

  /** The action's response, or a 500 when it is no ActionResponse or (outside production) does not match the output schema. */
  private checked(action: RegisteredAction, response: unknown, ctx: RequestContext): ActionResponse {
    if (!isActionResponse(response)) {
      ctx.log.error({ returned: typeof response }, "action returned something that is not an ActionResponse");
      return internalError();
    }
    if (this.options.checkOutputs && action.cls.output && isSuccess(response.status_code)) {
      const checked = parseWith(action.cls.output, response.fields);
      if (!checked.success) {
        const problems = checked.issues.slice(0, 5).map((i) => `${i.path.map(String).join(".") || "fields"}: ${i.message}`);
        ctx.log.error({ problems }, "the answer does not match the action's output schema (checked outside production)");
        return internalError();
      }
    }
    return response;
  }

  /**
   * Runs the action behind its middleware, outermost first. Each middleware gets its own
   * fields; `run` gets the rest, and the context with what each middleware added.
   */
  private behindMiddleware(job: Job, base: RequestContext): Promise<ActionResponse> {
    const { action } = job;
    const step = async (i: number, ctx: BaseContext): Promise<ActionResponse> => {
      if (base.aborted) return timedOut();
      if (i === action.middleware.length) return action.instance.run(job.fields as never, ctx as never);
      const mw: Middleware<object> = action.middleware[i]!;
      return mw.handle({ action: action.name, fields: job.middlewareFields[i]!, ctx }, (adds) => step(i + 1, extendContext(ctx, adds)));
    };
    return step(0, base);
  }

  private classify(error: unknown, ctx: RequestContext): ActionResponse {
    if (error instanceof ActionError) return error.toResponse();
    // A full heavy-work queue is load, not a fault: counted in the metrics, not logged per request.
    if (error instanceof OverloadedError) return unavailable(MESSAGES.overloaded);
    if (error instanceof DependencyError) {
      ctx.log.error({ err: error.cause ?? error }, `dependency unavailable: ${error.message}`);
      return unavailable();
    }
    if (ctx.aborted) return timedOut();
    ctx.log.error({ err: error }, "action failed");
    return internalError();
  }

  private next(): void {
    // A synchronous action finishes inside start(), and its finish calls next() again: that inner
    // call only asks this one to look again, so the stack does not grow with the queue.
    if (this.starting) {
      this.lookAgain = true;
      return;
    }
    this.starting = true;
    try {
      do {
        this.lookAgain = false;
        // A parked request that may go on comes before anything new.
        this.slots.resumeWaiting();
        // The first queued job whose action has room: one bounded by its own concurrency waits
        // without holding up the others.
        for (let i = 0; i < this.queue.length && !this.slots.full; ) {
          const job = this.queue[i]!;
          if (!hasRoom(job.action)) {
            i++;
            continue;
          }
          this.queue.splice(i, 1);
          this.start(job);
        }
      } while (this.lookAgain);
    } finally {
      this.starting = false;
    }
    this.options.observer?.queueChanged?.(this.inFlight, this.queue.length);
    if (this.inFlight === 0 && this.queue.length === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * Marks the replica as draining (/readyz says so) and resolves once every accepted request,
   * running or queued, has been answered. Requests that still arrive are served: behind a
   * plugboard that never retries elsewhere a 503 would be a caller's failure (docs/protocol.md);
   * the plugboard client stops them coming by leaving the channel.
   */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * A hard stop (the shutdown deadline, a second signal): queued requests are answered 503
   * "shutting down" at once and every running action's signal is aborted (its answer: 504).
   */
  abortAll(): void {
    for (const job of this.queue.splice(0)) job.resolve(unavailable(MESSAGES.shuttingDown));
    for (const ctx of this.contexts) ctx.abort(new Error("service stopping"));
    this.next();
  }
}

/** Whether an action with a concurrency bound of its own may start one more run. */
function hasRoom(action: RegisteredAction): boolean {
  return action.concurrency === undefined || action.running < action.concurrency;
}

/** An action name fit to echo back to the caller: any JSON value, never throwing, never long. */
function printable(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = "(unprintable)";
  }
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

function isActionResponse(value: unknown): value is ActionResponse {
  if (typeof value !== "object" || value === null) return false;
  const code = (value as { status_code?: unknown }).status_code;
  return Number.isInteger(code) && (code as number) >= 100 && (code as number) <= 599;
}
