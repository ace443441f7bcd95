import { z } from "zod/v4";
import { Action, type Fields, badRequest, conflict, created, tooManyRequests, type ActionResponse, type Context } from "vera-service";
import { attemptClaim, phoneToStore, normalizeEmail, normalizeUsername, type AccountKey, ACCOUNT_FIELD, invalidFields, lengthErrors, ACCOUNT_MESSAGES, LIFETIME_MESSAGES, tokenAnswer, tokenFields, unixSeconds, UserExistsError, accounts } from "../core.ts";

export class Register extends Action.with({
  description: "Create an account (username or email) and get a token",
  needs: [accounts],
  schema: z.object({
    name: ACCOUNT_FIELD.name.describe("Your name"),
    username: ACCOUNT_FIELD.username
      .optional()
      .describe("Unique, any case"),
    email: ACCOUNT_FIELD.email
      .optional()
      .describe("Unique, any case"),
    phone_number: ACCOUNT_FIELD.phone
      .optional()
      .describe("e.g. +12025550123"),
    password: ACCOUNT_FIELD.password
      .describe("8–72 characters"),
    not_before: unixSeconds.optional().describe("Token valid from (unix s)"),
    expires_at: unixSeconds.optional().describe("Token expiry (unix s)"),
  }),
  output: tokenAnswer,
}) {
  async run(fields: Fields<typeof Register>, ctx: Context): Promise<ActionResponse> {
    const { config, users, passwords, tokens, throttle } = ctx.get(accounts);
    if (fields.username === undefined && fields.email === undefined) return badRequest(ACCOUNT_MESSAGES.identifierRequired);
    const errors = lengthErrors(fields, config.limits);
    if (errors.length > 0) return invalidFields(errors);

    const phone = phoneToStore(fields.phone_number);
    if ("answer" in phone) return phone.answer;
    const phoneNumber = phone.e164;
    const lifetime = tokens.lifetime(fields);
    if (!lifetime.ok) return badRequest(LIFETIME_MESSAGES[lifetime.problem]);

    // The password is hashed before anything is said about the identifiers, so "already exists"
    // costs what a registration costs: no cheap way to learn which names are taken. The unique
    // indexes decide; a name answered 409 too often lately is throttled (429) instead.
    const passwordDigest = await passwords.hash(fields.password, ctx);
    const keys: AccountKey[] = [];
    if (fields.username !== undefined) keys.push({ kind: "username", normalized: normalizeUsername(fields.username) });
    if (fields.email !== undefined) keys.push({ kind: "email", normalized: normalizeEmail(fields.email) });
    if (phoneNumber !== undefined) keys.push({ kind: "phone_number", normalized: phoneNumber });
    const claim = await attemptClaim(throttle, keys);
    if (claim.throttled) {
      ctx.log.warn({ event: "register_throttled", identifier_kinds: keys.map((k) => k.kind) }, "registration throttled: repeated conflicts");
      return tooManyRequests(ACCOUNT_MESSAGES.throttled);
    }
    let user;
    try {
      user = await users.create({ name: fields.name, username: fields.username, email: fields.email, phoneNumber, passwordDigest });
    } catch (error) {
      if (error instanceof UserExistsError) {
        await claim.settled(error.kind);
        return conflict(ACCOUNT_MESSAGES.userExists);
      }
      await claim.settled(undefined);
      throw error;
    }
    await claim.settled(undefined);
    // A new account holds no roles yet; its tokens say so, as every token does (README "Roles").
    const token = tokens.sign(String(user.id), lifetime.lifetime, []);
    ctx.log.info({ event: "user_created", user_id: user.id, jti: token.claims.jti }, "user created");
    return created(ACCOUNT_MESSAGES.registered, tokenFields(token));
  }
}
