/**
 * "Type your password again" for a signed-in user (Edit's current_password, Delete's password).
 * A stolen token must not become a way to guess the password: wrong answers count against the
 * account's throttle, the very counter Login uses (account/attempts.ts), so after
 * LOGIN_MAX_FAILURES within LOGIN_WINDOW_SECONDS the answer is 429 until the window passes.
 */
import { accounts } from "./accounts.ts";
import type { SignedInContext } from "./guard.ts";
import { tooManyRequests, unauthorized, type ActionResponse } from "vera-service";
import { attemptPassword, THROTTLE_KEY } from "./attempts.ts";
import { invalidFields, passwordByteError } from "./limits.ts";
import { ACCOUNT_MESSAGES } from "./messages.ts";

/** Undefined when `password` is the signed-in user's password; otherwise the answer to give. */
export async function confirmPassword(ctx: SignedInContext, password: string, field: string): Promise<ActionResponse | undefined> {
  const { passwords, throttle } = ctx.get(accounts);
  const tooLong = passwordByteError(password);
  if (tooLong) return invalidFields([{ ...tooLong, field }]);
  // The lane's place is admitted before the reservation: a lane that could not compare in time
  // refuses at once (503).
  const attempt = await passwords.withSlot(ctx, (bcrypt) =>
    attemptPassword(throttle, THROTTLE_KEY.account(ctx.user.id), () => bcrypt.verify(password, ctx.user.password_digest)),
  );
  if (attempt === "throttled") {
    ctx.log.warn({ event: "password_confirmation_throttled", user_id: ctx.user.id }, "password confirmation throttled");
    return tooManyRequests(ACCOUNT_MESSAGES.throttled);
  }
  if (attempt === "failed") {
    ctx.log.info({ event: "password_confirmation_failed", reason: "bad_password", user_id: ctx.user.id }, "password confirmation failed");
    return unauthorized(ACCOUNT_MESSAGES.invalidPassword);
  }
  return undefined;
}
