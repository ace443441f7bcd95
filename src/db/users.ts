/**
 * Accounts in the `users` table. Knows nothing of status codes: it returns rows or throws
 * UserExistsError; the actions decide what the caller hears.
 */
import type { Kysely } from "kysely";
import { normalizeEmail, normalizeUsername, type AccountKey } from "../auth/identifiers.ts";
import { isUniqueViolation } from "./errors.ts";
import { USER_UNIQUE_INDEXES, type Database, type User } from "./schema.ts";

/** A live account already holds the username, email or phone number. */
export class UserExistsError extends Error {
  constructor() {
    super("user already exists");
    this.name = "UserExistsError";
  }
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

export class Users {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts an account; the partial unique indexes decide races between concurrent registrations. */
  async create(account: NewAccount): Promise<User> {
    try {
      return await this.db
        .insertInto("users")
        .values({
          name: account.name,
          username: account.username?.normalize("NFC") ?? null,
          username_normalized: account.username === undefined ? null : normalizeUsername(account.username),
          email: account.email?.normalize("NFC") ?? null,
          email_normalized: account.email === undefined ? null : normalizeEmail(account.email),
          phone_number: account.phoneNumber ?? null,
          password_digest: account.passwordDigest,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error, USER_UNIQUE_INDEXES)) throw new UserExistsError();
      throw error;
    }
  }

  /** True when a live account holds any of the given identifiers (a cheap check before hashing). */
  async anyTaken(keys: AccountKey[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const row = await this.db
      .selectFrom("users")
      .select("id")
      .where("deleted_at", "is", null)
      .where((eb) => eb.or(keys.map((key) => eb(COLUMN[key.kind], "=", key.normalized))))
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The live (not soft-deleted) account with this identifier. */
  async findLive(key: AccountKey): Promise<User | undefined> {
    return this.db
      .selectFrom("users")
      .selectAll()
      .where(COLUMN[key.kind], "=", key.normalized)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
  }

  /** Any account with this id, deleted or not: callers look at deleted_at. */
  async findById(id: number): Promise<User | undefined> {
    return this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
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
