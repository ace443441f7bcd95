/**
 * Whose migrations there are, without the migrator (kysely): the providers and the start-up
 * name them before anything decides to open a database.
 */
import { fileURLToPath } from "node:url";

/** A folder of migrations and who owns them. */
export interface MigrationSource {
  /** Lower-case letters, digits and _: names the bookkeeping table, `vera_<owner>_migration`. */
  owner: string;
  dir: string;
}

/** The framework's own tables. */
export const FRAMEWORK_MIGRATIONS: MigrationSource = { owner: "framework", dir: fileURLToPath(new URL("../migrations/", import.meta.url)) };
