/**
 * Taking over a Vera-Py-Service database in place (account/migrations/0001_users.ts and
 * 0002_revocations.ts call this instead of creating their tables). That service's schema, from
 * its alembic revisions c7478657dc4c and 438ee0af9127 (`alembic_version` says which):
 * `users(id, username, name, email, phone_number, password_digest, created_at, updated_at,
 * deleted_at)` with exact-case UNIQUE indexes on username and email (and phone_number in the
 * later revision), and `revocations(jti, created_at, expires_at)`.
 *
 * - Nothing is guessed: rows this service cannot accept as they are — two live accounts whose
 *   usernames, emails or phones are the same once normalized, a live account's phone that does
 *   not parse, an account with neither username nor email — are reported by id and reason, and
 *   the take-over stops (the migrations run in one transaction: the database stays as it was).
 * - Every row and every id is kept; new accounts continue after the highest id.
 * - Tokens: every token the Python service issued stops working at the take-over (each
 *   account's tokens_valid_after is set to it). Its tokens might never expire, and revoked
 *   ones must stay revoked; signing in again gives a token of this service, which always expires.
 *   The revoked jtis are kept too.
 */
import { sql, type Kysely } from "kysely";
import { normalizeEmail, normalizeUsername, parsePhone } from "./identifiers.ts";
import { createLiveIdentifierIndexes } from "./live-indexes.ts";

export const PY_REVISIONS = ["c7478657dc4c", "438ee0af9127"] as const;

/** The Vera-Py-Service revision this database holds, or undefined when it is not one of its databases. */
export async function pyRevision(db: Kysely<any>): Promise<string | undefined> {
  const { rows } = await sql<{ present: boolean }>`select to_regclass('public.alembic_version') is not null and to_regclass('public.users') is not null as present`.execute(db);
  if (!rows[0]?.present) return undefined;
  const versions = await sql<{ version_num: string }>`select version_num from alembic_version`.execute(db);
  const revision = versions.rows[0]?.version_num;
  if (revision === undefined || !(PY_REVISIONS as readonly string[]).includes(revision)) {
    throw new Error(`alembic_version holds ${JSON.stringify(revision ?? null)}: only Vera-Py-Service revisions ${PY_REVISIONS.join(" and ")} can be taken over`);
  }
  return revision;
}

interface PyUser {
  id: number;
  username: string | null;
  email: string | null;
  phone_number: string | null;
  deleted_at: Date | null;
}

/** An empty string means absent: the Python service let them through. */
const present = (value: string | null) => (value === null || value.trim() === "" ? null : value);

/** What the rows would become: the normalized identifiers and the stored phone. */
function normalized(user: PyUser): { username: string | null; email: string | null; phone: string | null; phoneProblem: string | undefined } {
  const username = present(user.username);
  const email = present(user.email);
  const phoneText = present(user.phone_number);
  const phone = phoneText === null ? undefined : parsePhone(phoneText, { validate: false });
  return {
    username: username === null ? null : normalizeUsername(username),
    email: email === null ? null : normalizeEmail(email),
    phone: phone === undefined ? null : phone.ok ? phone.e164 : phoneText,
    phoneProblem: phone && !phone.ok ? phone.problem : undefined,
  };
}

async function pyUsers(db: Kysely<any>): Promise<PyUser[]> {
  const { rows } = await sql<PyUser>`select id, username, email, phone_number, deleted_at from users order by id`.execute(db);
  return rows;
}

/** Why the take-over cannot go ahead, one line per problem naming the rows: nothing when it can. */
export async function pyAdoptionProblems(db: Kysely<any>): Promise<string[]> {
  return problemsOf(await pyUsers(db));
}

function problemsOf(users: readonly PyUser[]): string[] {
  const problems: string[] = [];
  const live = new Map<string, Map<string, number[]>>([["username", new Map()], ["email", new Map()], ["phone", new Map()]]);
  const noIdentifier: number[] = [];
  const badPhones: Array<{ id: number; problem: string }> = [];
  for (const user of users) {
    const n = normalized(user);
    if (n.username === null && n.email === null) noIdentifier.push(user.id);
    if (user.deleted_at !== null) continue; // a deleted account reserves nothing
    if (n.phoneProblem !== undefined) badPhones.push({ id: user.id, problem: n.phoneProblem });
    for (const [kind, value] of [["username", n.username], ["email", n.email], ["phone", n.phoneProblem === undefined ? n.phone : null]] as const) {
      if (value === null) continue;
      const ids = live.get(kind)!.get(value) ?? [];
      ids.push(user.id);
      live.get(kind)!.set(value, ids);
    }
  }
  const what = { username: "usernames differ only in case or form", email: "emails differ only in case", phone: "phone numbers are the same number" };
  for (const [kind, groups] of live) {
    for (const ids of groups.values()) if (ids.length > 1) problems.push(`users ${ids.join(", ")}: live accounts whose ${what[kind as keyof typeof what]}; only one may keep it`);
  }
  for (const { id, problem } of badPhones) problems.push(`user ${id}: its phone number does not parse (${problem}); store it in international form (+country code) or clear it`);
  if (noIdentifier.length > 0) problems.push(`users ${noIdentifier.join(", ")}: neither a username nor an email; give each one`);
  return problems;
}

export class PyAdoptionError extends Error {
  constructor(readonly problems: string[]) {
    super(`the Vera-Py-Service database cannot be taken over as it is (nothing was changed):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PyAdoptionError";
  }
}

/** Takes over the Python service's users table in place; throws PyAdoptionError with the report when it cannot. */
export async function adoptPyUsers(db: Kysely<any>): Promise<void> {
  const users = await pyUsers(db);
  const problems = problemsOf(users);
  if (problems.length > 0) throw new PyAdoptionError(problems);
  // The exact-case unique indexes (deleted rows included) give way to this service's live-account ones.
  await sql`drop index if exists ix_users_username, ix_users_email, ix_users_phone_number`.execute(db);
  await sql`alter table users
    alter column username drop not null, alter column email drop not null, alter column phone_number drop not null,
    add column username_normalized text, add column email_normalized text, add column tokens_valid_after timestamptz`.execute(db);
  for (let at = 0; at < users.length; at += 1000) {
    const values = users.slice(at, at + 1000).map((user) => {
      const n = normalized(user);
      return sql`(${user.id}::integer, ${present(user.username)}, ${n.username}, ${present(user.email)}, ${n.email}, ${n.phone})`;
    });
    await sql`
      update users set username = v.username, username_normalized = v.username_normalized, email = v.email,
        email_normalized = v.email_normalized, phone_number = v.phone
      from (values ${sql.join(values)}) as v(id, username, username_normalized, email, email_normalized, phone)
      where users.id = v.id`.execute(db);
  }
  // Every token the Python service issued ends here (see above).
  await sql`update users set tokens_valid_after = now()`.execute(db);
  await sql`alter table users add constraint users_identifier_present check (username_normalized is not null or email_normalized is not null)`.execute(db);
  await createLiveIdentifierIndexes(db);
  await identityAfterHighestId(db);
}

/**
 * `id` becomes an identity column like a new database's, continuing after the highest id the
 * Python service used (or its sequence, if that went further): no id is ever handed out twice.
 */
async function identityAfterHighestId(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ seq: string | null; highest: number }>`
    select pg_get_serial_sequence('users', 'id') as seq, coalesce((select max(id) from users), 0) as highest`.execute(db);
  let next = Number(rows[0]!.highest) + 1;
  const sequence = rows[0]!.seq;
  if (sequence !== null) {
    const used = await sql<{ last: string; called: boolean }>`select last_value::text as last, is_called as called from ${sql.table(sequence.replace(/"/g, ""))}`.execute(db);
    const last = Number(used.rows[0]!.last);
    next = Math.max(next, used.rows[0]!.called ? last + 1 : last);
    await sql`alter table users alter column id drop default`.execute(db);
    await sql`drop sequence ${sql.table(sequence.replace(/"/g, ""))}`.execute(db);
  } else {
    await sql`alter table users alter column id drop default`.execute(db);
  }
  await sql`alter table users alter column id add generated always as identity (start with ${sql.lit(next)})`.execute(db);
}

/** Takes over the Python service's revocations: kept, given this service's columns. */
export async function adoptPyRevocations(db: Kysely<any>): Promise<void> {
  // A Python token without an expiry was revoked for good; every token issued before the take-over is refused anyway.
  await sql`update revocations set expires_at = now() + interval '1 year' where expires_at is null`.execute(db);
  await sql`alter table revocations alter column expires_at set not null, add column user_id integer references users (id)`.execute(db);
  await db.schema.createIndex("revocations_expires_at_idx").ifNotExists().on("revocations").column("expires_at").execute();
}
