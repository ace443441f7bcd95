/**
 * What the account lifecycle tests (tests/lifecycle-*.test.ts) share: a password, the clock in
 * seconds, and helpers bound to the test file's accounts.
 */
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import type { AnswerPayload } from "../../src/actions/responses.ts";
import { TEST_JWT_SECRET, type Accounts } from "./accounts.ts";

export const now = () => Math.floor(Date.now() / 1000);
export const PASSWORD = "password123";

/** Resolves just after the next whole second begins, so what follows lands within one second. */
export async function startOfSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}

/** Helpers over the accounts `get` returns (set in the test file's before hook). */
export function lifecycleHelpers(get: () => Accounts) {
  const dispatch = (action: string, fields: unknown) => get().dispatch(action, fields);
  const summary = (a: AnswerPayload) => [a.status_code, a.status, a.message];
  const login = async (fields: Record<string, unknown>, password = PASSWORD) => {
    const answer = await dispatch("Login", { ...fields, password });
    assert.equal(answer.status_code, 200, `Login: ${answer.message}`);
    return (answer.fields as { jwt: string }).jwt;
  };
  const verify = (token: string) => dispatch("Verify", { jwt: token });
  const isActive = async (token: string) => {
    const answer = await verify(token);
    assert.equal(answer.status_code, 200);
    const fields = answer.fields as { active: boolean };
    if (!fields.active) assert.deepEqual(fields, { active: false }, "an inactive token gets {active: false} and nothing else");
    return fields.active;
  };
  const claimsOf = (token: string) => jwt.decode(token, { json: true })!;
  const userRow = (token: string) =>
    get().services.db.selectFrom("users").selectAll().where("id", "=", Number(claimsOf(token).sub)).executeTakeFirstOrThrow();
  /** A token with our secret and the given claims (for expired and foreign-subject cases). */
  const forge = (claims: Record<string, unknown>) =>
    jwt.sign({ jti: crypto.randomUUID(), iss: "vera-service", aud: "vera-clients", iat: now(), exp: now() + 600, ...claims }, TEST_JWT_SECRET);
  return { dispatch, summary, login, verify, isActive, claimsOf, userRow, forge };
}
