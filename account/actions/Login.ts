import { z } from "zod/v4";
import { Action, type Fields, badRequest, notFound, ok, tooManyRequests, unauthorized, type ActionResponse, type Context, recordEvent } from "vera-service";
import { attemptPassword, THROTTLE_KEY, normalizeEmail, normalizeUsername, parsePhone, type AccountKey, invalidFields, OUTER_BOUNDS, passwordByteError, ACCOUNT_MESSAGES, LIFETIME_MESSAGES, mintToken, tokenAnswer, tokenFields, unixSeconds, type User, accounts } from "../core.ts";

export class Login extends Action.with({
  description: "Sign in with one of username, email or phone_number",
  needs: [accounts],
  schema: z.object({
    username: z.string().min(1).max(OUTER_BOUNDS.username).optional().describe("Any case"),
    email: z.string().min(1).max(OUTER_BOUNDS.email).optional().describe("Any case"),
    phone_number: z.string().min(1).max(OUTER_BOUNDS.phone).optional().describe("e.g. +12025550123"),
    password: z.string().min(1).max(OUTER_BOUNDS.password).describe("Password"),
    not_before: unixSeconds.optional().describe("Token valid from (unix s)"),
    expires_at: unixSeconds.optional().describe("Token expiry (unix s)"),
  }),
  output: tokenAnswer,
}) {
  async run(fields: Fields<typeof Login>, ctx: Context): Promise<ActionResponse> {
    const { users, passwords, tokens, throttle } = ctx.get(accounts);
    // Everything about the input is settled before the lookup, so both failure paths below
    // do the same work.
    const key = accountKey(fields);
    if ("answer" in key) return key.answer;
    const tooLong = passwordByteError(fields.password);
    if (tooLong) return invalidFields([tooLong]);
    const lifetime = tokens.lifetime(fields);
    if (!lifetime.ok) return badRequest(LIFETIME_MESSAGES[lifetime.problem]);

    // A place in the bcrypt lane first: when the comparison could not be done in time the answer
    // is 503 at once, before the lookup and the reservation that a refusal would waste.
    const { user, attempt } = await passwords.withSlot(ctx, async (bcrypt) => {
      const user = await users.findLive(key);
      // Failures count per account, whichever identifier was typed (Edit and Delete count there
      // too); an identifier that names no account has a counter of its own. Both paths do the
      // same work: a lookup, a reservation, a bcrypt comparison.
      const attempt = await attemptPassword(throttle, user ? THROTTLE_KEY.account(user.id) : THROTTLE_KEY.identifier(key), () =>
        user ? bcrypt.verify(fields.password, user.password_digest) : bcrypt.verifyWithoutAccount(fields.password),
      );
      return { user, attempt };
    });
    if (attempt === "throttled") {
      ctx.log.warn({ event: "login_throttled", identifier_kind: key.kind, user_id: user?.id }, "login throttled");
      await loginFailed(ctx, user, key, "throttled");
      return tooManyRequests(ACCOUNT_MESSAGES.throttled);
    }
    if (!user || attempt === "failed") {
      const reason = user ? "bad_password" : "user_not_found";
      ctx.log.info({ event: "login_failed", reason, identifier_kind: key.kind, user_id: user?.id }, "login failed");
      // Both paths write the same event row: their timing stays alike.
      await loginFailed(ctx, user, key, reason);
      return user ? unauthorized(ACCOUNT_MESSAGES.invalidPassword) : notFound(ACCOUNT_MESSAGES.userNotFound);
    }
    // Waits out the second of a password change that just happened, and refuses a token for a
    // password that was changed while bcrypt was comparing it (account/mint.ts).
    const token = await mintToken(ctx.get(accounts), user, lifetime.lifetime, ctx.signal);
    if (!token) {
      // The password was right when compared, but it changed (or the account went) meanwhile.
      ctx.log.info({ event: "login_failed", reason: "account_changed", identifier_kind: key.kind, user_id: user.id }, "login failed");
      return unauthorized(ACCOUNT_MESSAGES.signInAgain);
    }
    ctx.log.info({ event: "login_success", user_id: user.id, jti: token.claims.jti }, "login succeeded");
    // After minting: a new digest of the same password is no change the token must answer for.
    await rehashIfOutdated(ctx, user, fields.password);
    await recordEvent(ctx.get(accounts).db, { type: "login.success", subject: `user:${user.id}`, data: { user_id: user.id, jti: token.claims.jti, identifier_kind: key.kind } });
    return ok(ACCOUNT_MESSAGES.loggedIn, tokenFields(token));
  }
}

function accountKey(fields: Fields<typeof Login>): AccountKey | { answer: ActionResponse } {
  const given = (["username", "email", "phone_number"] as const).filter((k) => fields[k] !== undefined);
  if (given.length === 0) return { answer: badRequest(ACCOUNT_MESSAGES.exactlyOneIdentifier) };
  if (given.length > 1) return { answer: badRequest(ACCOUNT_MESSAGES.onlyOneIdentifier) };
  // `typed` lets the lookup find an account from before NFKC case folding by its old form too.
  if (fields.username !== undefined) return { kind: "username", normalized: normalizeUsername(fields.username), typed: fields.username };
  if (fields.email !== undefined) return { kind: "email", normalized: normalizeEmail(fields.email) };
  // Parsed, not validated: a stored number keeps working when the metadata changes.
  const phone = parsePhone(fields.phone_number!, { validate: false });
  if (!phone.ok) return { answer: badRequest(ACCOUNT_MESSAGES.invalidPhone(phone.problem)) };
  return { kind: "phone_number", normalized: phone.e164 };
}

/** A digest from a lower BCRYPT_COST (or the seed's service) is replaced while we hold the password. */
async function rehashIfOutdated(ctx: Context, user: User, password: string): Promise<void> {
  const { passwords, users } = ctx.get(accounts);
  if (!passwords.needsRehash(user.password_digest)) return;
  try {
    const digest = await passwords.hash(password, ctx);
    if (await users.replaceDigest(user.id, user.password_digest, digest)) {
      ctx.log.info({ event: "password_rehashed", user_id: user.id, cost: passwords.cost }, "password rehashed at the current cost");
    }
  } catch (error) {
    // The login itself succeeded; the next one tries again.
    ctx.log.warn({ user_id: user.id, reason: error instanceof Error ? error.message : String(error) }, "password rehash failed");
  }
}

/**
 * login.failed: the account when there is one, and how it was named — never what was typed (a
 * password typed into the username field would end up on the event bus).
 */
async function loginFailed(ctx: Context, user: User | undefined, key: AccountKey, reason: string): Promise<void> {
  await recordEvent(ctx.get(accounts).db, {
    type: "login.failed",
    subject: user ? `user:${user.id}` : "user:unknown",
    data: { user_id: user?.id ?? null, identifier_kind: key.kind, reason },
  });
}
