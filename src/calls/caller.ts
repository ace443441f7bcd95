/**
 * Calls to other services through the plugboard's HTTP API: `POST /` with `{service_id,
 * action, fields}` and the account API token (docs/protocol.md). An action makes them with
 * `ctx.call` (src/actions/request-context.ts).
 *
 * - Deadline: a call gets its own timeout (CALL_TIMEOUT_MS, or the call's option) and, while
 *   serving a request, at most that request's remaining time less a margin, so the caller can
 *   still answer; the HTTP request is aborted at it, and with the request's AbortSignal.
 * - Retries only where the callee cannot have run: no consumer (422), and a connection that
 *   failed before the request was sent (refused, no such host, connect timeout), with jittered
 *   exponential backoff inside the deadline (p-retry). Never a 400 or a 408 (the callee may
 *   have run), nor a 502: the plugboard answers it when the callee's answer lacked `status` or
 *   `message` (docs/protocol.md), so the callee ran; nor a connection lost after sending; nor
 *   the callee's own answer.
 * - A circuit breaker per target service (opossum): after half of at least 5 calls in 10 s fail
 *   (unreachable, no consumer, bad gateway, timeout, deadline, or the callee's 5xx) it opens and
 *   calls fail at once with `circuit_open` (the action decides what to answer); after 10 s one
 *   call probes it half-open, and its success closes it.
 * - Logged per call at debug (target, action, outcome, status code, attempts, ms) and counted
 *   in the metrics (src/ops/metrics.ts); never the fields, the answer or the API token.
 */
import type CircuitBreaker from "opossum";
import type { Logger } from "../ops/logger.ts";
import { readAnswer, type ReadAnswer } from "./answers.ts";
import type { CallFailureReason, CallOptions, CallResult, ServiceTarget } from "./types.ts";

export type BreakerState = "closed" | "open" | "half_open";

/** What the metrics are told (src/ops/metrics.ts). */
export interface CallObserver {
  called(target: string, outcome: "ok" | CallFailureReason, seconds: number): void;
  retried(target: string): void;
  breaker(target: string, state: BreakerState): void;
}

export interface CallerOptions {
  /** The plugboard's HTTP side, e.g. http://plugboard:4000. */
  httpUrl: string;
  /** The account API token (PLUGBOARD_API_TOKEN): sent as a bearer token, never logged. */
  apiToken: string;
  log: Logger;
  /** A call's timeout when it sets none (CALL_TIMEOUT_MS). */
  timeoutMs: number;
  /** Kept back from a request's remaining time, for the caller's own answer (default 50 ms). */
  marginMs?: number;
  retry?: { retries?: number; minTimeoutMs?: number; maxTimeoutMs?: number };
  breaker?: { volumeThreshold?: number; errorThresholdPercentage?: number; resetTimeoutMs?: number; windowMs?: number };
  observer?: CallObserver;
}

/** Where a call made while serving a request must end, and the request's signal. */
export interface CallScope {
  deadlineAt?: number;
  signal?: AbortSignal;
}

/** Failures the breaker counts. */
const COUNTED = new Set<CallFailureReason>(["unreachable", "no_consumer", "bad_gateway", "timeout", "deadline"]);
/** Failures retried: the callee cannot have run. */
const RETRIED = new Set<CallFailureReason>(["no_consumer"]);
/** Connection errors raised before a request is sent: retried. A reset or a close after sending is not (the callee may have run). */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** A failed attempt the breaker counts; `notSent` when the request never left. */
class CountedFailure extends Error {
  constructor(
    readonly answer: ReadAnswer & { ok: false },
    readonly notSent = false,
  ) {
    super(answer.message);
  }

  /** Whether sending it again cannot run the callee twice. */
  get retryable(): boolean {
    return this.notSent || RETRIED.has(this.answer.reason);
  }
}

const failure = (reason: CallFailureReason, statusCode: number, message: string): ReadAnswer & { ok: false } => ({ ok: false, reason, statusCode, message, fields: null });

/**
 * The caller a configuration gives (src/config.ts `calls`): the plugboard's HTTP side with the
 * account API token, else `fallback` (the dev plugboard's own in dev mode); none without a token.
 */
export function configuredCaller(
  calls: { httpUrl: string | undefined; apiToken: string | undefined; timeoutMs: number },
  log: Logger,
  options: { fallback?: { httpUrl: string; apiToken: string }; observer?: CallObserver } = {},
): ServiceCaller | undefined {
  // The dev plugboard's own URL with a given token (its account token is that token then), but
  // never its random token sent to a URL given from outside.
  const httpUrl = calls.httpUrl ?? options.fallback?.httpUrl;
  const apiToken = calls.apiToken ?? (calls.httpUrl === undefined ? options.fallback?.apiToken : undefined);
  if (httpUrl === undefined || apiToken === undefined) return undefined;
  return new ServiceCaller({ httpUrl, apiToken, timeoutMs: calls.timeoutMs, log: log.child({ component: "calls" }), ...(options.observer ? { observer: options.observer } : {}) });
}

/** opossum and p-retry, loaded by the first call: a service that never calls another never loads them. */
let libraries: Promise<{ CircuitBreaker: typeof CircuitBreaker; pRetry: typeof import("p-retry").default }> | undefined;
const loadLibraries = () =>
  (libraries ??= Promise.all([import("opossum"), import("p-retry")]).then(([opossum, retry]) => ({ CircuitBreaker: opossum.default, pRetry: retry.default })));

export class ServiceCaller {
  private readonly breakers = new Map<string, CircuitBreaker<[string, unknown, AbortSignal], ReadAnswer>>();
  private readonly endpoint: string;

  constructor(private readonly options: CallerOptions) {
    // `POST /` of the plugboard, under a path prefix when a proxy puts it there.
    this.endpoint = options.httpUrl.endsWith("/") ? options.httpUrl : `${options.httpUrl}/`;
  }

  async call(target: string | ServiceTarget<any>, action: string, fields: unknown, options: CallOptions & CallScope = {}): Promise<CallResult<any>> {
    const { serviceId, name } = typeof target === "string" ? { serviceId: target, name: undefined } : target;
    const label = name ?? serviceId;
    const started = performance.now();
    let attempts = 0;
    const done = (answer: ReadAnswer): CallResult<any> => {
      const seconds = (performance.now() - started) / 1000;
      this.options.observer?.called(label, answer.ok ? "ok" : answer.reason, seconds);
      this.options.log.debug(
        { target: label, called_action: action, outcome: answer.ok ? "ok" : answer.reason, status_code: answer.statusCode, attempts, ms: Math.round(seconds * 1000) },
        "service call",
      );
      return { ...answer, attempts };
    };
    const untilDeadline = options.deadlineAt === undefined ? Infinity : options.deadlineAt - Date.now() - (this.options.marginMs ?? 50);
    const budgetMs = Math.min(options.timeoutMs ?? this.options.timeoutMs, untilDeadline);
    if (budgetMs <= 0 || options.signal?.aborted) return done(failure("deadline", 504, "No time was left for the call"));
    const deadline = AbortSignal.timeout(budgetMs);
    const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
    const { CircuitBreaker, pRetry } = await loadLibraries();
    const breaker = this.breakerFor(CircuitBreaker, serviceId, label);
    const retry = this.options.retry ?? {};
    try {
      const answer = await pRetry(
        async () => {
          attempts++;
          return await breaker.fire(action, fields, signal);
        },
        {
          retries: retry.retries ?? 4,
          minTimeout: retry.minTimeoutMs ?? 50,
          maxTimeout: retry.maxTimeoutMs ?? 1000,
          factor: 2,
          randomize: true,
          maxRetryTime: budgetMs,
          signal,
          shouldRetry: ({ error }) => error instanceof CountedFailure && error.retryable && !signal.aborted,
          onFailedAttempt: ({ error, retriesLeft }) => {
            if (retriesLeft > 0 && error instanceof CountedFailure && error.retryable && !signal.aborted) this.options.observer?.retried(label);
          },
        },
      );
      return done(answer);
    } catch (error) {
      if (error instanceof CountedFailure) return done(error.answer);
      if (CircuitBreaker.isOurError(error as Error) && (error as { code?: string }).code === "EOPENBREAKER") {
        return done(failure("circuit_open", 503, `${label} is failing: its circuit breaker is open, the call was not sent`));
      }
      if (signal.aborted) return done(failure("deadline", 504, "The call's deadline passed before an answer"));
      throw error;
    }
  }

  /** Each target's breaker state, for the metrics. */
  breakerStates(): Map<string, BreakerState> {
    const states = new Map<string, BreakerState>();
    for (const [label, breaker] of this.breakers) states.set(label, breaker.opened ? "open" : breaker.halfOpen ? "half_open" : "closed");
    return states;
  }

  /** Stops the breakers' timers. */
  close(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }

  private breakerFor(Breaker: typeof CircuitBreaker, serviceId: string, label: string): CircuitBreaker<[string, unknown, AbortSignal], ReadAnswer> {
    let breaker = this.breakers.get(serviceId);
    if (breaker) return breaker;
    const settings = this.options.breaker ?? {};
    const windowMs = settings.windowMs ?? 10_000;
    breaker = new Breaker((action: string, fields: unknown, signal: AbortSignal) => this.attempt(serviceId, action, fields, signal), {
      timeout: false, // the call's deadline aborts the request (above)
      volumeThreshold: settings.volumeThreshold ?? 5,
      errorThresholdPercentage: settings.errorThresholdPercentage ?? 50,
      resetTimeout: settings.resetTimeoutMs ?? 10_000,
      rollingCountTimeout: windowMs,
      rollingCountBuckets: 10,
    });
    const log = this.options.log.child({ target: label });
    const report = (state: BreakerState) => () => {
      this.options.observer?.breaker(label, state);
      if (state === "open") log.warn("service calls: circuit breaker open; calls fail at once until a probe succeeds");
      else log.info({ state }, `service calls: circuit breaker ${state === "closed" ? "closed" : "half open: the next call probes"}`);
    };
    breaker.on("open", report("open"));
    breaker.on("halfOpen", report("half_open"));
    breaker.on("close", report("closed"));
    this.breakers.set(serviceId, breaker);
    this.options.observer?.breaker(label, "closed");
    return breaker;
  }

  /** One HTTP request: the answer, or a CountedFailure for what the breaker counts. */
  private async attempt(serviceId: string, action: string, fields: unknown, signal: AbortSignal): Promise<ReadAnswer> {
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.options.apiToken}` },
        body: JSON.stringify({ service_id: serviceId, action, fields }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw new CountedFailure(failure("deadline", 504, "The call's deadline passed before an answer"));
      const code = (error as { cause?: { code?: string } }).cause?.code ?? "connection failed";
      throw new CountedFailure(failure("unreachable", 503, `The plugboard could not be reached (${code})`), NOT_SENT.has(code));
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      if (signal.aborted) throw new CountedFailure(failure("deadline", 504, "The call's deadline passed before an answer"));
      body = undefined;
    }
    const answer = readAnswer(response.status, body);
    if (!answer.ok && (COUNTED.has(answer.reason) || (answer.reason === "answered" && answer.statusCode >= 500))) throw new CountedFailure(answer);
    return answer;
  }
}
