/**
 * Accounts in the `users` table. Knows nothing of status codes: it returns rows or throws
 * UserExistsError; the actions decide what the caller hears.
 */
import { isLastStarHolder } from "./roles.ts";
import { sql, type Kysely } from "kysely";
import {
  legacyUsernameForm,
  normalizeEmail,
  normalizeUsername,
  usernameCasedSkeleton,
  usernameSkeleton,
  USERNAME_KEYS_VERSION,
  type AccountKey,
  type IdentifierKind,
} from "./identifiers.ts";
import { isUniqueViolation, recordEvent } from "vera-service";
import { USER_UNIQUE_INDEXES, type Database, type User } from "./schema.ts";

/** A live account already holds the username, email or phone number. */
export class UserExistsError extends Error {
  /** `kind`: which identifier a live account already holds. */
  constructor(readonly kind: IdentifierKind) {
    super(`user already exists (${kind})`);
    this.name = "UserExistsError";
  }
}

/** Another live account holds this identifier (Edit: a change to a taken one). */
export class IdentifierTakenError extends Error {
  constructor(readonly kind: IdentifierKind) {
    super(`${kind} already taken`);
    this.name = "IdentifierTakenError";
  }
}

/** What Edit may change; identifiers already checked and normalized (phone as E.164). */
export interface AccountChanges {
  name?: string;
  username?: string;
  email?: string;
  phoneNumber?: string;
  passwordDigest?: string;
  /** With a new password: tokens issued up to this instant stop working. */
  tokensValidAfter?: Date;
}

const INDEX_KIND: Record<(typeof USER_UNIQUE_INDEXES)[number], IdentifierKind> = {
  users_username_live_key: "username",
  users_username_skeleton_live_key: "username",
  users_username_cased_skeleton_live_key: "username",
  users_email_live_key: "email",
  users_phone_live_key: "phone_number",
};

/** Which identifier a unique violation of one of USER_UNIQUE_INDEXES is about. */
function takenKind(error: unknown): IdentifierKind {
  return INDEX_KIND[(error as { constraint: (typeof USER_UNIQUE_INDEXES)[number] }).constraint];
}

export interface NewAccount {
  name: string;
  username?: string;
  email?: string;
  /** Already E.164. */
  phoneNumber?: string;
  passwordDigest: string;
}

const COLUMN = { username: "username_normalized", email: "email_normalized", phone_number: "phone_number" } as const;

/** The username columns of a new or changed username: NFKC for display, its comparison form, and its two lookalike keys. */
function usernameColumns(username: string) {
  return {
    username: username.normalize("NFKC"),
    username_normalized: normalizeUsername(username),
    username_skeleton: usernameSkeleton(username),
    username_cased_skeleton: usernameCasedSkeleton(username),
    username_keys_version: USERNAME_KEYS_VERSION,
  };
}

export class Users {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts an account; the partial unique indexes decide races between concurrent
   * registrations, and a username's skeleton index refuses lookalikes of a live one.
   */
  async create(account: NewAccount): Promise<User> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const user = await trx
          .insertInto("users")
          .values({
            name: account.name,
            ...(account.username === undefined
              ? { username: null, username_normalized: null, username_skeleton: null, username_cased_skeleton: null, username_keys_version: null }
              : usernameColumns(account.username)),
            email: account.email?.normalize("NFC") ?? null,
            email_normalized: account.email === undefined ? null : normalizeEmail(account.email),
            phone_number: account.phoneNumber ?? null,
            password_digest: account.passwordDigest,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await recordEvent(trx, { type: "user.registered", subject: `user:${user.id}`, data: profileOf(user) });
        return user;
      });
    } catch (error) {
      if (isUniqueViolation(error, USER_UNIQUE_INDEXES)) throw new UserExistsError(takenKind(error));
      throw error;
    }
  }

  /**
   * The live (not soft-deleted) account with this identifier. A username (`key.normalized` =
   * normalizeUsername of what was typed) also finds an account from before NFKC case folding:
   * by its old form legacyUsernameForm(key.typed), preferred when it is another account (one
   * from before, typed the way it was registered), or else by its skeleton when its username
   * folds to the same form (a row the migration gave its skeleton to).
   */
  async findLive(key: AccountKey): Promise<User | undefined> {
    if (key.kind === "username") return this.findLiveByUsername(key);
    return this.db
      .selectFrom("users")
      .selectAll()
      .where(COLUMN[key.kind], "=", key.normalized)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
  }

  private async findLiveByUsername(key: AccountKey): Promise<User | undefined> {
    const normalized = key.normalized;
    const legacy = key.typed === undefined ? undefined : legacyUsernameForm(key.typed);
    const skeleton = usernameSkeleton(normalized);
    // At most three rows: each of the three values is unique among live accounts.
    const rows = await this.db
      .selectFrom("users")
      .selectAll()
      .where("deleted_at", "is", null)
      .where((eb) =>
        eb.or([
          eb("username_normalized", "in", legacy === undefined ? [normalized] : [normalized, legacy]),
          eb("username_skeleton", "=", skeleton),
        ]),
      )
      .execute();
    return (
      (legacy === undefined ? undefined : rows.find((row) => row.username_normalized === legacy)) ??
      rows.find((row) => row.username_normalized === normalized) ??
      rows.find((row) => row.username_skeleton === skeleton && row.username !== null && normalizeUsername(row.username) === normalized)
    );
  }

  /** Any account with this id, deleted or not: callers look at deleted_at. */
  async findById(id: number): Promise<User | undefined> {
    return this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /**
   * Applies Edit's changes to a live account and returns the row; undefined when the account
   * is gone or its token cut-off is no longer `expect.validAfter` (deleted, or the password
   * changed meanwhile). The partial unique indexes decide races for an identifier.
   */
  async update(id: number, changes: AccountChanges, expect: { validAfter: Date | null }): Promise<User | undefined> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const user = await trx
          .updateTable("users")
          .set({
            updated_at: sql`now()`,
            ...(changes.name !== undefined ? { name: changes.name } : {}),
            ...(changes.username !== undefined ? usernameColumns(changes.username) : {}),
            ...(changes.email !== undefined ? { email: changes.email.normalize("NFC"), email_normalized: normalizeEmail(changes.email) } : {}),
            ...(changes.phoneNumber !== undefined ? { phone_number: changes.phoneNumber } : {}),
            ...(changes.passwordDigest !== undefined ? { password_digest: changes.passwordDigest } : {}),
            ...(changes.tokensValidAfter !== undefined ? { tokens_valid_after: changes.tokensValidAfter } : {}),
          })
          .where("id", "=", id)
          .where("deleted_at", "is", null)
          .where(sql<boolean>`tokens_valid_after is not distinct from ${expect.validAfter}`)
          .returningAll()
          .executeTakeFirst();
        if (user) {
          const changed = (["name", "username", "email", "phoneNumber"] as const).filter((k) => changes[k] !== undefined).map((k) => (k === "phoneNumber" ? "phone_number" : k));
          if (changed.length > 0) await recordEvent(trx, { type: "user.updated", subject: `user:${id}`, data: { ...profileOf(user), changed } });
          if (changes.passwordDigest !== undefined) await recordEvent(trx, { type: "password.changed", subject: `user:${id}`, data: { user_id: id } });
        }
        return user;
      });
    } catch (error) {
      if (isUniqueViolation(error, USER_UNIQUE_INDEXES)) throw new IdentifierTakenError(takenKind(error));
      throw error;
    }
  }

  /**
   * Soft-deletes a live account: its identifiers are free for new accounts at once (the unique
   * indexes cover live rows only) and every token issued up to `at` stops working. False when
   * it was not live.
   */
  async softDelete(id: number, at: Date, options: { keepAStarHolder?: boolean } = {}): Promise<boolean | "last holder of *"> {
    return this.db.transaction().execute(async (trx) => {
      // The Delete action may not remove the last live account holding `*` (account/roles.ts).
      if (options.keepAStarHolder && (await isLastStarHolder(trx, id))) return "last holder of *";
      const result = await trx
        .updateTable("users")
        .set({ deleted_at: at, tokens_valid_after: at, updated_at: sql`now()` })
        .where("id", "=", id)
        .where("deleted_at", "is", null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return false;
      await recordEvent(trx, { type: "user.deleted", subject: `user:${id}`, data: { user_id: id } });
      return true;
    });
  }

  /**
   * Swaps in a new digest (a rehash at the current cost) unless the password changed
   * meanwhile; returns whether it did.
   */
  async replaceDigest(id: number, previous: string, next: string): Promise<boolean> {
    const result = await this.db
      .updateTable("users")
      .set({ password_digest: next })
      .where("id", "=", id)
      .where("password_digest", "=", previous)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

/** What an account's events say of it: its public profile, never the digest or the normalized forms. */
function profileOf(user: User): Record<string, unknown> {
  return { user_id: user.id, username: user.username, name: user.name, email: user.email, phone_number: user.phone_number };
}
