/**
 * The embedded PostgreSQL (PGlite, Postgres compiled to WebAssembly) as a kysely dialect, for
 * `npm start` with nothing configured. PGlite answers with the same result shape as pg
 * (rows, command, rowCount), so kysely's own PostgresDialect drives it through a one-connection
 * "pool": a connection is exclusive until released, which keeps a transaction's statements
 * from interleaving with other requests' on the single backend.
 */
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PostgresDialect, type Dialect, type PostgresPool, type PostgresPoolClient } from "kysely";

export interface EmbeddedDatabase {
  dialect: Dialect;
  pglite: PGlite;
}

/** Opens (creating it if needed) the embedded database kept in `dataDir`; in memory when absent. */
export async function openEmbeddedDatabase(dataDir?: string): Promise<EmbeddedDatabase> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  return { dialect: new PostgresDialect({ pool: singleConnectionPool(pglite) }), pglite };
}

function singleConnectionPool(pglite: PGlite): PostgresPool {
  let tail: Promise<void> = Promise.resolve();
  const connect = async (): Promise<PostgresPoolClient> => {
    let release!: () => void;
    const previous = tail;
    tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    const query = ((text: string, parameters: ReadonlyArray<unknown>) =>
      pglite.query(text, [...parameters])) as unknown as PostgresPoolClient["query"];
    return { query, release };
  };
  return { connect, end: () => pglite.close() };
}
