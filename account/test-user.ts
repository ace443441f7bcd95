/**
 * A signed-in user for tests of guarded actions (account/testing.ts): an account created
 * directly through the account services, and a token for it, as Register would give.
 */
import type { Provider } from "vera-service";
import { accounts, type Accounts } from "./accounts.ts";
import type { User } from "./schema.ts";

let made = 0;

export interface TestUser {
  user: User;
  /** The token to send as the `jwt` field. */
  jwt: string;
  password: string;
}

/** Creates an account (a fresh username unless given) and signs a token for it. */
export async function testUser(
  kit: { get<T>(provider: Provider<T>): T },
  account: { name?: string; username?: string; email?: string; password?: string } = {},
): Promise<TestUser> {
  const { users, passwords, tokens }: Accounts = kit.get(accounts);
  const password = account.password ?? "correct horse battery";
  const username = account.email === undefined ? (account.username ?? `test_user_${process.pid}_${++made}`) : account.username;
  const user = await users.create({
    name: account.name ?? "Test User",
    ...(username === undefined ? {} : { username }),
    ...(account.email === undefined ? {} : { email: account.email }),
    passwordDigest: await passwords.hash(password),
  });
  const lifetime = tokens.lifetime({});
  if (!lifetime.ok) throw new Error(`no token lifetime: ${lifetime.problem}`);
  // A new account holds no roles yet; its token says so, as Register's does.
  return { user, jwt: tokens.sign(String(user.id), lifetime.lifetime, []).jwt, password };
}
