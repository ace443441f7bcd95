/**
 * The Action base class. An action is one file in `actions/` exporting a subclass:
 * its class name is the action's name, `description` and `schema` are published to the
 * plugboard, and `run` receives fields already validated against the schema.
 */
import { z } from "zod";
import type { Logger } from "../ops/logger.ts";
import type { ActionResponse } from "./responses.ts";
import type { Services } from "../services.ts";
import type { User } from "../db/schema.ts";
import type { TokenClaims } from "../auth/tokens.ts";

export interface ActionContext {
  /** Logger bound to this request (action name and response_ref). */
  log: Logger;
  /** Aborted when the deadline (ACTION_TIMEOUT_MS) passes or the service shuts down hard. */
  signal: AbortSignal;
  /** The plugboard's reference of this request. */
  responseRef: string;
  /** Shared services: configuration, database, passwords, tokens. */
  services: Services;
  /** The signed-in account, set for actions that declare `requiresUser` (the whole row: never answer it as is). */
  user?: User;
  /** The verified claims of the signed-in user's token (jti, sub, iat, exp, …), with `user`. */
  claims?: TokenClaims;
}

/** The context of an action that declares `requiresUser`: `run(fields, ctx: UserContext)`. */
export interface UserContext extends ActionContext {
  user: User;
  claims: TokenClaims;
}

/** The schema type an action may declare: a zod object of its fields. */
export type FieldsSchema = z.AnyZodObject;

/** The validated fields of an action class: `run(fields: Fields<typeof MyAction>)`. */
export type Fields<A extends { schema: FieldsSchema }> = z.infer<A["schema"]>;

export abstract class Action {
  /** One line that tells a caller what the action does. */
  static description = "";
  /** The fields the action accepts. Unknown fields are rejected; null counts as absent. */
  static schema: FieldsSchema = z.object({});
  /**
   * True: only a signed-in user may call it. The framework adds a required `jwt` field to the
   * published schema, checks the token before `run` (401 "Invalid token: …" otherwise) and puts
   * the account in `ctx.user` (see src/auth/guard.ts).
   */
  static requiresUser = false;

  abstract run(fields: unknown, ctx: ActionContext): ActionResponse | Promise<ActionResponse>;
}

/** The static side of an Action subclass, as the registry sees it. */
export interface ActionClass {
  new (): Action;
  readonly name: string;
  description: string;
  schema: FieldsSchema;
  requiresUser?: boolean;
}

/** True for Action subclasses, direct or indirect, but not Action itself. */
export function isActionClass(value: unknown): value is ActionClass {
  return typeof value === "function" && value !== Action && value.prototype instanceof Action;
}
