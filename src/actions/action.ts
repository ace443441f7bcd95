/**
 * The Action base class. An action is one file in `actions/` exporting a subclass; its class
 * name is the action's name. `Action.with({...})` declares its description, its fields (a zod
 * object), the middleware it runs behind and its limits, and types `run` from them:
 *
 *   export class Greet extends Action.with({ description: "Says hello", schema: z.object({ name: z.string() }) }) {
 *     run({ name }: Fields<typeof Greet>) { return ok("Greeted", { greeting: `Hello, ${name}!` }); }
 *   }
 *
 * `run` receives fields already validated (unknown fields refused at every depth) and a context.
 * The schemas are the app's own zod's, zod 3.25+ or zod 4 (src/schema/).
 */
import { z } from "zod/v4";
import type { AnySchema, ObjectSchema, OutputOf } from "../schema/types.ts";
import type { Logger } from "../ops/logger.ts";
import type { Provider } from "../providers.ts";
import type { ExtrasOf, Middleware } from "./middleware.ts";
import type { ActionResponse } from "./responses.ts";
import type { CallFunction } from "../calls/types.ts";

/** What every action's context holds. */
export interface BaseContext {
  /** The action's name. */
  readonly action: string;
  /** Logger bound to this request (action name and response_ref). */
  readonly log: Logger;
  /** Aborted when the action's deadline passes or the service stops hard. */
  readonly signal: AbortSignal;
  /** The plugboard's reference of this request. */
  readonly responseRef: string;
  /** When this request's deadline passes (ms since epoch): its answer is 504 from then on. */
  readonly deadline: number;
  /**
   * Awaits `waiting` without holding one of the replica's MAX_CONCURRENCY places: for a wait in
   * a queue of its own (a Lane), so cheap requests are not held up behind it. The run goes on
   * when a place is free again, ahead of requests that have not started.
   */
  withoutSlot<T>(waiting: Promise<T>): Promise<T>;
  /**
   * A provider's value; the action (or a middleware of it) must list the provider in `needs`,
   * else ProviderNotDeclaredError (a 500), even while another action has it started.
   */
  get<T>(provider: Provider<T>): T;
  /**
   * Calls an action of another service through the plugboard (src/calls/caller.ts), within this
   * request's remaining time; typed when `target` comes from a generated client (`npm run client`).
   */
  readonly call: CallFunction;
}

declare const extrasType: unique symbol;
declare const validatedType: unique symbol;

/**
 * The context of an action whose middleware adds `X` (the sign-in guard: the account and its
 * token's claims). The hidden member makes two different `X` incompatible both ways, so a
 * `run` that asks for more than its middleware gives fails to compile.
 */
export type Context<X extends object = {}> = BaseContext & X & { readonly [extrasType]?: (x: X) => X };

/**
 * The fields `run` receives. The hidden member makes a `run` that declares fields the schema
 * does not have fail to compile (a subclass method's parameters are otherwise compared both ways).
 */
export type Input<S extends FieldsSchema> = OutputOf<S> & { readonly [validatedType]: S };

/** The schema an action may declare: a zod object of its fields (`z.object({...})`, zod 3.25+ or 4). */
export type FieldsSchema = ObjectSchema;

/** The validated fields of an action class: `run(fields: Fields<typeof MyAction>)`. */
export type Fields<A extends { schema: FieldsSchema }> = OutputOf<A["schema"]>;

export interface ActionDefinition<S extends FieldsSchema, M extends readonly Middleware<any>[]> {
  /** One line that tells a caller what the action does (published). */
  description?: string;
  /** The fields it accepts (published). Unknown fields are refused at every depth; null counts as absent. */
  schema: S;
  /** Middleware it runs behind, outermost first (the sign-in guard, an audit …). */
  use?: M;
  /** Providers `run` reads with ctx.get. */
  needs?: readonly Provider<unknown>[];
  /** Its deadline in ms, instead of ACTION_TIMEOUT_MS (at most 29,000: the plugboard waits 30 s). */
  timeoutMs?: number;
  /** At most this many of it run at once on a replica (others wait in the queue). */
  concurrency?: number;
  /** What a success answers in `fields`: published, and checked outside production. */
  output?: AnySchema;
}

/**
 * Marks the Action class of any copy of the framework (the registry asks the class, not
 * `instanceof`: an app's actions and the framework may come from two installs).
 */
const ACTION_CLASS = Symbol.for("vera-service.Action");

export abstract class Action<S extends FieldsSchema = FieldsSchema, X extends object = {}> {
  static description = "";
  static schema: FieldsSchema = z.object({});
  static use: readonly Middleware<any>[] = [];
  static needs: readonly Provider<unknown>[] = [];
  static timeoutMs: number | undefined = undefined;
  static concurrency: number | undefined = undefined;
  static output: AnySchema | undefined = undefined;

  abstract run(fields: Input<S>, ctx: Context<X>): ActionResponse | Promise<ActionResponse>;

  /** The base class of an action declared by `definition`, with `run` typed from it. */
  static with<S extends FieldsSchema, const M extends readonly Middleware<any>[] = []>(definition: ActionDefinition<S, M>) {
    abstract class Declared extends Action<S, ExtrasOf<M>> {
      static override description = definition.description ?? "";
      static override schema: S = definition.schema;
      static override use: M = definition.use ?? ([] as unknown as M);
      static override needs = definition.needs ?? [];
      static override timeoutMs = definition.timeoutMs;
      static override concurrency = definition.concurrency;
      static override output = definition.output;
    }
    return Declared;
  }
}

// Not a declared static member: the brand stays out of the class's type (and its declarations).
Object.defineProperty(Action, ACTION_CLASS, { value: true });

/** The static side of an Action subclass, as the registry sees it. */
export interface ActionClass {
  new (): Action<any, any>;
  readonly name: string;
  description: string;
  schema: FieldsSchema;
  use: readonly Middleware<any>[];
  needs: readonly Provider<unknown>[];
  timeoutMs: number | undefined;
  concurrency: number | undefined;
  output: AnySchema | undefined;
}

/** True for Action subclasses, direct or indirect, but not Action itself (of any copy of the framework). */
export function isActionClass(value: unknown): value is ActionClass {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[ACTION_CLASS] === true && !Object.hasOwn(value, ACTION_CLASS);
}
