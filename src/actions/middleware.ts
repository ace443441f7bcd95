/**
 * Middleware: one mechanism for checks that many actions share (sign-in, audit, a permission
 * check). A middleware may take fields of its own from the request (the sign-in guard takes
 * `jwt`): they are published with the action's, validated with them, and removed before `run`.
 * It runs around the action: it may answer instead of it, or call `next` with what it adds to
 * the action's context — and that addition is in `run`'s context type, so an action that reads
 * `ctx.user` without a middleware that adds it does not compile. What `next` is given makes a new
 * context for what runs inside (as tRPC's `next({ ctx })`): the additions over the one the
 * middleware got, which nothing writes into; an addition may replace `log`.
 */
import type { SchemaShape } from "../schema/types.ts";
import type { Provider } from "../providers.ts";
import type { ActionResponse } from "./responses.ts";
import type { BaseContext } from "./action.ts";

/** One call as a middleware sees it. */
export interface MiddlewareCall {
  /** The action's name. */
  action: string;
  /** This middleware's own fields, validated. */
  fields: Record<string, unknown>;
  ctx: BaseContext;
}

declare const addsType: unique symbol;

export interface Middleware<Adds extends object = {}> {
  readonly name: string;
  readonly fields: SchemaShape;
  readonly needs: readonly Provider<unknown>[];
  readonly handle: (call: MiddlewareCall, next: (adds: Adds) => Promise<ActionResponse>) => Promise<ActionResponse>;
  /** Type-level only: what the middleware adds to the context. */
  readonly [addsType]?: Adds;
}

export interface MiddlewareDefinition<Adds extends object> {
  name: string;
  /** Request fields this middleware owns, one schema each (published, validated, removed before run). */
  fields?: SchemaShape;
  /** Providers `handle` reads with ctx.get. */
  needs?: readonly Provider<unknown>[];
  /** Answer instead of the action, or `return next(adds)` (possibly doing something with its answer). */
  handle(call: MiddlewareCall, next: (adds: Adds) => Promise<ActionResponse>): Promise<ActionResponse>;
}

/** Declares a middleware; `Adds` is what it puts in the context of the actions that use it. */
export function middleware<Adds extends object = {}>(definition: MiddlewareDefinition<Adds>): Middleware<Adds> {
  return Object.freeze({
    name: definition.name,
    fields: definition.fields ?? {},
    needs: definition.needs ?? [],
    handle: definition.handle.bind(definition),
  }) as Middleware<Adds>;
}

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** What a list of middleware adds to the context, together. */
export type ExtrasOf<M extends readonly Middleware<any>[]> = [M[number]] extends [never]
  ? {}
  : UnionToIntersection<M[number] extends Middleware<infer A> ? A : never> extends infer I extends object
    ? I
    : {};
