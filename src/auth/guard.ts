/**
 * The signed-in-user guard. An action that declares `static override requiresUser = true` gets a
 * required `jwt` field in its published schema (the registry adds it), and the dispatcher checks
 * that token once before `run`: signature and claims, account alive, issued after the account's
 * valid-after time, not revoked. The action then finds the account in `ctx.user` and the token's
 * claims in `ctx.claims`; otherwise the caller gets `401 "Invalid token: <reason>"` and `run`
 * never starts.
 */
import { z } from "zod";
import type { FieldsSchema } from "../actions/action.ts";
import { unauthorized, type ActionResponse } from "../actions/responses.ts";
import type { User } from "../db/schema.ts";
import { authenticate, type AuthenticateDeps } from "./authenticate.ts";
import { OUTER_BOUNDS } from "./limits.ts";
import { ACCOUNT_MESSAGES } from "./messages.ts";
import type { TokenClaims } from "./tokens.ts";

/** The field a guarded action receives its token in. */
export const JWT_FIELD = "jwt";

const jwtField = z.string().min(1).max(OUTER_BOUNDS.jwt).describe("Your token");

/** A guarded action's schema declares its own fields only; the guard owns `jwt`. */
export class GuardedSchemaError extends Error {
  constructor(action: string) {
    super(`${action} declares requiresUser and a "${JWT_FIELD}" field of its own: leave ${JWT_FIELD} to the guard`);
    this.name = "GuardedSchemaError";
  }
}

/** The schema a guarded action is validated and published with: `jwt` first, then its own fields. */
export function withJwtField(action: string, schema: FieldsSchema): FieldsSchema {
  if (JWT_FIELD in schema.shape) throw new GuardedSchemaError(action);
  return z.object({ [JWT_FIELD]: jwtField }).merge(schema);
}

export type Guarded =
  | { ok: true; user: User; claims: TokenClaims; fields: Record<string, unknown> }
  | { ok: false; answer: ActionResponse };

/** Checks the `jwt` of validated fields; on success hands back the account and the other fields. */
export async function checkSignedIn(deps: AuthenticateDeps, fields: Record<string, unknown>): Promise<Guarded> {
  const { [JWT_FIELD]: token, ...rest } = fields;
  const auth = await authenticate(deps, String(token));
  if (!auth.ok) return { ok: false, answer: unauthorized(ACCOUNT_MESSAGES.invalidToken(auth.reason)) };
  return { ok: true, user: auth.user, claims: auth.claims, fields: rest };
}
