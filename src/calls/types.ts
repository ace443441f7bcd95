/**
 * The public shapes of a call to another service through the plugboard (src/calls/caller.ts):
 * the target, typed by a generated client (`npm run client`, src/calls/client-code.ts) or not,
 * and the result the calling action gets.
 */

/** One action of a service, as a generated client declares it. */
export interface ActionTypes {
  fields: unknown;
  result: unknown;
}

declare const actionsType: unique symbol;

/**
 * The service a call goes to: its plugboard service id (and a name for logs and metrics). A
 * generated client makes targets typed by the service's actions; `{ serviceId }` alone is untyped.
 */
export interface ServiceTarget<A = Record<string, ActionTypes>> {
  readonly serviceId: string;
  /** For logs and metrics; the id when absent. */
  readonly name?: string;
  /** The actions' types: never present at run time. */
  readonly [actionsType]?: A;
}

/** Why a call did not succeed. */
export type CallFailureReason =
  /** The callee ran and answered with an error status (its status code and message are kept). Never retried. */
  | "answered"
  /** The plugboard refused the caller: bad API token (401) or no right to that service (403). Never retried. */
  | "refused"
  /** No consumer of that service is joined (422). Retried. */
  | "no_consumer"
  /** The plugboard waited 30 s for the callee (408): it may have run. Never retried. */
  | "timeout"
  /** The callee's answer was not one the plugboard could pass on (502): the callee ran. Never retried. */
  | "bad_gateway"
  /** The plugboard could not be reached, or answered what no plugboard answers. Retried when the request never left (connection refused, no such host). */
  | "unreachable"
  /** The caller's deadline (its request's, or the call's own) passed first. */
  | "deadline"
  /** The target's circuit breaker is open after repeated failures: not sent. */
  | "circuit_open";

export interface CallSuccess<R> {
  ok: true;
  statusCode: number;
  message: string;
  fields: R;
  attempts: number;
}

export interface CallFailure {
  ok: false;
  reason: CallFailureReason;
  /** The callee's status code for `answered`; otherwise the plugboard's, or 503/504 for what never reached it. */
  statusCode: number;
  message: string;
  fields: Record<string, unknown> | null;
  attempts: number;
}

export type CallResult<R = Record<string, unknown> | null> = CallSuccess<R> | CallFailure;

export interface CallOptions {
  /** At most this long (ms), however long the request being served still has. */
  timeoutMs?: number;
}

type ActionsOf<T> = T extends ServiceTarget<infer A> ? A : never;

/** The actions a target names: any string for an untyped target. */
export type ActionName<T> = T extends string ? string : keyof ActionsOf<T> & string;

/** The fields an action of the target takes. */
export type FieldsOf<T, K> = T extends string ? unknown : K extends keyof ActionsOf<T> ? (ActionsOf<T>[K] extends ActionTypes ? ActionsOf<T>[K]["fields"] : unknown) : never;

/** The `fields` of its successful answer. */
export type ResultOf<T, K> = T extends string
  ? Record<string, unknown> | null
  : K extends keyof ActionsOf<T>
    ? ActionsOf<T>[K] extends ActionTypes
      ? ActionsOf<T>[K]["result"]
      : Record<string, unknown> | null
    : never;

/** `ctx.call`: a service id (untyped) or a target, one of its actions, that action's fields. */
export type CallFunction = <T extends string | ServiceTarget<any>, K extends ActionName<T>>(
  target: T,
  action: K,
  fields: FieldsOf<T, K>,
  options?: CallOptions,
) => Promise<CallResult<ResultOf<T, K>>>;

/** A target for a service id, typed by `A` (what a generated client's function returns). */
export function serviceTarget<A = Record<string, ActionTypes>>(serviceId: string, name?: string): ServiceTarget<A> {
  return name === undefined ? { serviceId } : { serviceId, name };
}
