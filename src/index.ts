/**
 * `vera-service`: what an app built on the framework imports. An action is a class in
 * `actions/` made with `Action.with({...})`; middleware wraps actions (the account module's
 * sign-in guard is one); providers hand actions what they need. Nothing else in src/ is public.
 */
export { Action, type ActionDefinition, type BaseContext, type Context, type Fields, type FieldsSchema, type Input } from "./actions/action.ts";
export { middleware, type Middleware, type MiddlewareCall, type MiddlewareDefinition } from "./actions/middleware.ts";
export { provider, type Provider, type ProviderDefinition, type ProviderStart } from "./providers.ts";
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
