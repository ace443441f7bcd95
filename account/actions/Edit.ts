import { z } from "zod/v4";
import { Action, type Fields, badRequest, conflict, ok, tooManyRequests, unauthorized, type ActionResponse } from "vera-service";
import { attemptClaim, confirmPassword, normalizeEmail, normalizeUsername, phoneToStore, type AccountKey, ACCOUNT_FIELD, invalidFields, lengthErrors, OUTER_BOUNDS, ACCOUNT_MESSAGES, mintToken, tokenFields, IdentifierTakenError, type AccountChanges, accounts, signedIn, type SignedInContext } from "../core.ts";

export class Edit extends Action.with({
  description: "Change your account; a new password signs out other tokens",
  use: [signedIn],
  schema: z.object({
    username: ACCOUNT_FIELD.username
      .optional()
      .describe("New username"),
    name: ACCOUNT_FIELD.name.optional().describe("New name"),
    email: ACCOUNT_FIELD.email
      .optional()
      .describe("New email"),
    phone_number: ACCOUNT_FIELD.phone
      .optional()
      .describe("New phone, e.g. +12025550123"),
    password: ACCOUNT_FIELD.password
      .optional()
      .describe("New password"),
    current_password: z
      .string()
      .min(1)
      .max(OUTER_BOUNDS.password)
      .optional()
      .describe("Needed to change username, email, phone or password"),
  }),
}) {
  async run(fields: Fields<typeof Edit>, ctx: SignedInContext): Promise<ActionResponse> {
    const { config, users, passwords, throttle } = ctx.get(accounts);
    const { user, claims } = ctx;
    const { username, name, email, password, current_password: currentPassword } = fields;
    if ([username, name, email, fields.phone_number, password].every((v) => v === undefined)) {
      return badRequest(ACCOUNT_MESSAGES.nothingToEdit);
    }
    const errors = lengthErrors({ username, name, email, password }, config.limits);
    if (errors.length > 0) return invalidFields(errors);
    const phone = phoneToStore(fields.phone_number);
    if ("answer" in phone) return phone.answer;
    const phoneNumber = phone.e164;
    const keys: AccountKey[] = [];
    if (username !== undefined) keys.push({ kind: "username", normalized: normalizeUsername(username) });
    if (email !== undefined) keys.push({ kind: "email", normalized: normalizeEmail(email) });
    if (phoneNumber !== undefined) keys.push({ kind: "phone_number", normalized: phoneNumber });
    // What lets someone take the account over (or lock its owner out) needs the password again,
    // and so does claiming a new identifier: otherwise a token alone could ask, at no cost and
    // without limit, which names are taken.
    const sensitive = password !== undefined || keys.length > 0;
    if (sensitive && currentPassword === undefined) {
      return invalidFields([{ field: "current_password", message: ACCOUNT_MESSAGES.currentPasswordRequired }]);
    }
    // Given without being needed, it is still checked: a wrong password never gets a 200.
    if (currentPassword !== undefined) {
      const refused = await confirmPassword(ctx, currentPassword, "current_password");
      if (refused) return refused;
    }
    // Only now is anything said about the identifiers, once, in one message for all three.
    const claim = await attemptClaim(throttle, keys);
    if (claim.throttled) {
      ctx.log.warn({ event: "edit_throttled", user_id: user.id, identifier_kinds: keys.map((k) => k.kind) }, "edit throttled: repeated conflicts");
      return tooManyRequests(ACCOUNT_MESSAGES.throttled);
    }
    const changes: AccountChanges = { name, username, email, phoneNumber };
    if (password !== undefined) {
      changes.passwordDigest = await passwords.hash(password, ctx);
      // Every token issued up to now stops working, the caller's too; the answer brings a new one.
      changes.tokensValidAfter = new Date();
    }
    let updated;
    try {
      // Only if the account is live and nobody changed its password since the guard checked the token.
      updated = await users.update(user.id, changes, { validAfter: user.tokens_valid_after });
    } catch (error) {
      const taken = error instanceof IdentifierTakenError ? error.kind : undefined;
      await claim.settled(taken);
      if (taken) return conflict(ACCOUNT_MESSAGES.identifierTaken);
      throw error;
    }
    await claim.settled(undefined);
    if (!updated) return unauthorized(ACCOUNT_MESSAGES.invalidToken("revoked"));

    const changed = (["username", "name", "email", "phone_number", "password"] as const).filter((k) => fields[k] !== undefined);
    ctx.log.info({ event: "user_updated", user_id: user.id, changed, jti: claims.jti }, "user updated");
    if (password === undefined) return ok(ACCOUNT_MESSAGES.updated);
    // The new token keeps the old one's lifetime: a password change is no way to extend a session.
    const lifetime = claims.nbf !== undefined ? { notBefore: claims.nbf, expiresAt: claims.exp } : { expiresAt: claims.exp };
    const token = await mintToken(ctx.get(accounts), updated, lifetime, ctx.signal);
    // Undefined: another password change or a deletion came in meanwhile; sign in again.
    return ok(ACCOUNT_MESSAGES.updated, token ? tokenFields(token) : null);
  }
}
