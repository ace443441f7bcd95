import { z } from "zod/v4";
import { Action, ok, type ActionResponse, type Fields } from "vera-service";
import { ACCOUNT_MESSAGES, accounts, type User, signedIn, type SignedInContext } from "../core.ts";

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

export class Show extends Action.with({
  description: "Your account",
  use: [signedIn],
  schema: z.object({}),
}) {
  async run(_fields: Fields<typeof Show>, ctx: SignedInContext): Promise<ActionResponse> {
    return ok(ACCOUNT_MESSAGES.userShown, { ...accountView(ctx.user), roles: await ctx.get(accounts).roles.rolesOf(ctx.user.id) });
  }
}
