/**
 * The tables as kysely sees them. The migrations in account/migrations/ (and the framework's in src/migrations/) create exactly these columns;
 * tests/migrations.test.ts checks the two agree.
 */
import type { ColumnType, Generated, Selectable } from "kysely";

/** A timestamptz column: read as Date, written as Date or ISO text. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: Generated<number>;
  /** As the user typed it, for display: NFKC (accounts from before usernameSkeleton: NFC). */
  username: string | null;
  /**
   * normalizeUsername (NFKC, case folded): what uniqueness and login compare. Accounts from
   * before usernameSkeleton have legacyUsernameForm here (NFC + lower case), and Login matches
   * either (account/identifiers.ts).
   */
  username_normalized: string | null;
  /**
   * usernameSkeleton: unique among live accounts, so no lookalike of a username can be
   * registered. Null for an account without a username, and for an account from before the
   * column whose skeleton an older account already had (account/migrations/0004_username_skeleton.ts).
   */
  username_skeleton: string | null;
  /**
   * usernameCasedSkeleton: the skeleton of the name as it shows, before case folding (a capital
   * I meets an l); unique among live accounts, null as username_skeleton is
   * (account/migrations/0006_username_keys.ts).
   */
  username_cased_skeleton: string | null;
  /** USERNAME_KEYS_VERSION of the rules that made the two keys; null: made by an older replica (account/username-keys.ts). */
  username_keys_version: number | null;
  name: string;
  email: string | null;
  email_normalized: string | null;
  /** E.164, e.g. +12025550123. */
  phone_number: string | null;
  password_digest: string;
  /** Tokens issued (iat) before this instant are rejected; null = no such cut-off. */
  tokens_valid_after: NullableTimestamp;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  /** Soft delete: a deleted account is invisible to login and frees its identifiers. */
  deleted_at: NullableTimestamp;
}

export interface RevocationsTable {
  jti: string;
  user_id: number | null;
  /** The token's own `exp`: the row can be purged once this (plus the clock skew) has passed. */
  expires_at: Timestamp;
  created_at: DefaultedTimestamp;
}

/** One row per login attempt that counts against the throttle (see account/throttle.ts). */
export interface LoginAttemptsTable {
  id: Generated<string>;
  identifier: string;
  attempted_at: DefaultedTimestamp;
}

/** A role: the permissions it grants (`resource:action`, `resource:*`, `*`). See account/roles.ts. */
export interface RolesTable {
  name: string;
  description: ColumnType<string, string | undefined, string>;
  permissions: ColumnType<string[], string[] | undefined, string[]>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

/** Who holds which role, granted by whom (null: an operator command) and when. */
export interface UserRolesTable {
  user_id: number;
  role: string;
  granted_by: number | null;
  granted_at: DefaultedTimestamp;
}

/** The outbox of domain events (src/domain-events/record.ts): written in the transaction of the change. */
export interface EventsTable {
  id: Generated<string>;
  event_id: string;
  event_type: string;
  subject: string;
  envelope: ColumnType<unknown, string, string>;
  created_at: DefaultedTimestamp;
  published_at: NullableTimestamp;
  /** The relay's order, when events go to PostgreSQL rather than Redis (src/migrations/0004_event_log.ts). */
  position: ColumnType<string | null, never, string | null>;
}

export interface Database {
  users: UsersTable;
  revocations: RevocationsTable;
  login_attempts: LoginAttemptsTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  events: EventsTable;
}

export type User = Selectable<UsersTable>;

/** Partial unique indexes among live accounts; a violation of any of them means "User already exists". */
export const USER_UNIQUE_INDEXES = [
  "users_username_live_key",
  "users_username_skeleton_live_key",
  "users_username_cased_skeleton_live_key",
  "users_email_live_key",
  "users_phone_live_key",
] as const;
