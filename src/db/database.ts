/**
 * The kysely database: PostgreSQL through a pg pool built from a URL, or any other kysely
 * dialect handed in. Either way unavailability errors come out as
 * DependencyError (src/db/errors.ts).
 */
import { Kysely, PostgresDialect, sql, type Dialect, type PostgresPool, type PostgresPoolClient } from "kysely";
import pg from "pg";
import type { Logger } from "../ops/logger.ts";
import { isUnavailable, withDependencyErrors } from "./errors.ts";

export interface PostgresOptions {
  url: string;
  /** Most connections this process opens (default 10). */
  poolMax?: number;
  /** How long to wait for a connection, new or from the pool (default 3000 ms; never 0 = forever). */
  connectTimeoutMs?: number;
  /** Server-side limit per statement (default 5000 ms; 0 = none, for migrations). */
  statementTimeoutMs?: number;
  /** Idle connections are closed after this long (default 30000 ms). */
  idleTimeoutMs?: number;
  /** What PostgreSQL shows as the connections' application (pg_stat_activity): the service's name. */
  applicationName?: string;
}

/** Where the database is: a PostgreSQL URL (with pool options) or a ready kysely dialect. */
export type DatabaseSource = PostgresOptions | { dialect: Dialect };

const POOL_DEFAULTS = { poolMax: 10, connectTimeoutMs: 3000, statementTimeoutMs: 5000, idleTimeoutMs: 30_000 };

/** Builds the kysely instance; nothing connects until the first query. */
export function createDatabase<DB = any>(source: DatabaseSource, log: Logger): Kysely<DB> {
  const dialect = "dialect" in source ? source.dialect : new PostgresDialect({ pool: createPool(source, log) });
  return new Kysely<DB>({ dialect: withDependencyErrors(dialect) });
}

/** One round trip; throws DependencyError when the database does not answer. */
export async function pingDatabase(db: Kysely<any>): Promise<void> {
  await sql`select 1`.execute(db);
}

function createPool(options: PostgresOptions, log: Logger): PostgresPool {
  const statementTimeout = options.statementTimeoutMs ?? POOL_DEFAULTS.statementTimeoutMs;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? POOL_DEFAULTS.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs ?? POOL_DEFAULTS.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs ?? POOL_DEFAULTS.idleTimeoutMs,
    keepAlive: true,
    application_name: options.applicationName ?? "vera-service",
    ...(statementTimeout > 0
      ? {
          statement_timeout: statementTimeout,
          // The client-side backstop for a server that stopped answering (a network partition,
          // where the server-side timeout never fires).
          query_timeout: statementTimeout + 2000,
          idle_in_transaction_session_timeout: statementTimeout * 2,
        }
      : {}),
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener
  // that would crash the process. pg-pool drops the client itself.
  pool.on("error", (error: Error & { code?: string }) => {
    log.warn({ code: error.code, reason: error.message }, "database connection lost");
  });
  return discardingBrokenClients(pool, log);
}

/**
 * Two gaps kysely leaves with a pg pool. A checked-out client has no 'error' listener (pg-pool
 * removes its own at checkout), so a server shutting down while a request holds a connection
 * would crash the process. And pg-pool only drops a client released with an error, which kysely
 * never passes. Here a client that failed at the connection level (the server went away, the
 * client-side query timeout) is released as broken, and the next request gets a fresh one.
 */
function discardingBrokenClients(pool: pg.Pool, log: Logger): PostgresPool {
  const connect = async (): Promise<PostgresPoolClient> => {
    const client = await pool.connect();
    let broken = false;
    const onError = (error: Error & { code?: string }) => {
      broken = true;
      log.warn({ code: error.code, reason: error.message }, "database connection lost while in use");
    };
    client.on("error", onError);
    const query = (async (text: string, parameters: ReadonlyArray<unknown>) => {
      try {
        return await client.query(text, [...parameters]);
      } catch (error) {
        if (isUnavailable(error)) broken = true;
        throw error;
      }
    }) as unknown as PostgresPoolClient["query"];
    const release = () => {
      client.removeListener("error", onError);
      client.release(broken || undefined);
    };
    return { query, release };
  };
  return { connect, end: () => pool.end() };
}

