/**
 * The account actions pass the same tests on PGlite (the embedded default of `npm start`) as on
 * PostgreSQL: this file runs the Register, Login and Logout suites again, in this process, with
 * every test database an in-memory PGlite. On a machine without PostgreSQL every run is on
 * PGlite already, and this file has nothing to add.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { createTestDatabase, usingPGlite } from "./support/database.ts";

const SUITES = ["./register.test.ts", "./login.test.ts", "./logout.test.ts"];

if (usingPGlite()) {
  describe("account action suites on PGlite", { skip: "this whole run is on PGlite already" }, () => undefined);
} else {
  // Read at import time by databaseSkipReason() and at run time by createTestDatabase().
  delete process.env.TEST_DATABASE_URL;
  process.env.TEST_DATABASE = "pglite";
  describe("account action suites on PGlite", async () => {
    test("the test databases here are PGlite", async () => {
      const database = await createTestDatabase();
      try {
        const { rows } = await sql<{ version: string }>`select version()`.execute(database.db);
        assert.match(rows[0]!.version, /PGlite/);
      } finally {
        await database.drop();
      }
    });
    for (const suite of SUITES) await import(suite);
  });
}
