/**
 * `vera-service`: what an app built on the framework imports. An action is a class in
 * `actions/` made with `Action.with({...})`; middleware wraps actions (the account module's
 * sign-in guard is one); providers hand actions what they need (the framework's own: `postgres`).
 * Nothing else in src/ is public; the account module (account/) is built on this entry alone.
 */
export { Action, type ActionDefinition, type BaseContext, type Context, type Fields, type FieldsSchema, type Input } from "./actions/action.ts";
export { Lane, type LaneCaller, type LaneOptions, type LaneStats, type LaneTicket } from "./actions/lane.ts";
export { middleware, type Middleware, type MiddlewareCall, type MiddlewareDefinition } from "./actions/middleware.ts";
export { provider, type Provider, type ProviderDefinition, type ProviderStart, type SettingsMode } from "./providers.ts";
export { postgres, type Postgres } from "./db/postgres.ts";
// The types an app's migrations and queries are written with, without a kysely dependency of their own.
export type { Kysely, Transaction } from "kysely";
export { runCommand, type CommandContext } from "./command.ts";
export { parseCommandLine, type CommandLine, type CommandLineSpec, type ParsedCommandLine } from "./cli/arguments.ts";
export { subscriber, type ReceivedEvent, type Subscriber, type SubscriberContext, type SubscriberDefinition } from "./domain-events/subscribers.ts";
export { envelopeOf, recordEvent, type DomainEvent, type Envelope } from "./domain-events/record.ts";
export { isUniqueViolation } from "./db/errors.ts";
export {
  serviceTarget,
  type ActionTypes,
  type CallFailure,
  type CallFailureReason,
  type CallFunction,
  type CallOptions,
  type CallResult,
  type CallSuccess,
  type ServiceTarget,
} from "./calls/types.ts";
export { intSetting, optionalSetting } from "./config.ts";
export { invalidFieldsAnswer, type FieldError } from "./actions/validation.ts";
export { isJsonObject } from "./json.ts";
export {
  ActionError,
  DependencyError,
  OverloadedError,
  badRequest,
  conflict,
  created,
  forbidden,
  notFound,
  ok,
  tooManyRequests,
  unauthorized,
  unavailable,
  type ActionResponse,
} from "./actions/responses.ts";
export type { Logger } from "./ops/logger.ts";
