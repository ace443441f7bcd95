import { z } from "zod";
import { Action, type UserContext } from "../src/actions/action.ts";
import { ok, type ActionResponse } from "../src/actions/responses.ts";
import { ACCOUNT_MESSAGES } from "../src/auth/messages.ts";
import type { User } from "../src/db/schema.ts";

/** What a user may see of their account: never the digest, the normalized forms or the cut-off. */
export interface AccountView {
  id: number;
  username: string | null;
  name: string;
  email: string | null;
  phone_number: string | null;
  created_at: string;
  updated_at: string;
}

export function accountView(user: User): AccountView {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    email: user.email,
    phone_number: user.phone_number,
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
  };
}

export class Show extends Action {
  static override description = "Your account";
  static override requiresUser = true;
  static override schema = z.object({});

  run(_fields: unknown, ctx: UserContext): ActionResponse {
    return ok(ACCOUNT_MESSAGES.userShown, accountView(ctx.user));
  }
}
