/**
 * Which database errors mean "the database is unavailable" (the caller gets 503 and may retry
 * on another replica) as opposed to a bug or a constraint (500, or a domain answer). The
 * classification lives here once, wrapped around the dialect, so every query of every action,
 * repository or migration gets it without thinking about it.
 */
import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
  DatabaseIntrospector,
} from "kysely";
import { DependencyError } from "../actions/responses.ts";

/**
 * SQLSTATE classes of an unavailable server: 08 connection exception, 53 insufficient resources
 * (too many connections, out of memory), 57 operator intervention (57014 statement timeout,
 * 57P01 shutdown, 57P03 starting up), 58 system error.
 */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(["08", "53", "57", "58"]);

/** Socket errors of a server that cannot be reached. */
const UNAVAILABLE_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/** pg and pg-pool raise these as plain Errors without a code. */
const UNAVAILABLE_MESSAGES = [
  /^timeout exceeded when trying to connect/, // pool exhausted or server unreachable (connectionTimeoutMillis)
  /^Connection terminated/, // server went away, or connection timeout while connecting
  /^Query read timeout/, // client-side query_timeout
  /is not queryable/, // client already broken by a connection error
  /^Cannot use a pool after calling end/, // shutting down
  /^timeout expired/,
];

const SQLSTATE = /^[0-9A-Z]{5}$/;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when `error` (or its cause) says the database cannot be reached or cannot answer in time. */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  if (error instanceof DependencyError) return true;
  const code = codeOf(error);
  if (code !== undefined) {
    if (SQLSTATE.test(code)) return UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2));
    if (UNAVAILABLE_SOCKET_CODES.has(code)) return true;
  }
  if (UNAVAILABLE_MESSAGES.some((re) => re.test(error.message))) return true;
  if (error instanceof AggregateError && error.errors.some((e) => isUnavailable(e, depth + 1))) return true;
  return isUnavailable(error.cause, depth + 1);
}

/** Unavailability becomes a DependencyError (the dispatcher answers 503); anything else is returned as is. */
function classifyDatabaseError(error: unknown): unknown {
  if (error instanceof DependencyError || !isUnavailable(error)) return error;
  return new DependencyError("database unavailable", { cause: error });
}

/** A unique violation (SQLSTATE 23505), optionally of one of the given constraints or indexes. */
export function isUniqueViolation(error: unknown, constraints?: readonly string[]): boolean {
  if (codeOf(error) !== "23505") return false;
  if (!constraints) return true;
  const constraint = (error as { constraint?: unknown }).constraint;
  return typeof constraint === "string" && constraints.includes(constraint);
}

/**
 * PostgreSQL describes a NOT NULL or CHECK violation with "Failing row contains (…)": every
 * column of the row, password digest included. Errors end up in logs, so that part goes.
 */
function scrubbed(error: unknown): unknown {
  const detail = (error as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string" && detail.startsWith("Failing row contains")) {
    (error as { detail: string }).detail = "Failing row contains (values withheld)";
  }
  return error;
}

async function classified<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw classifyDatabaseError(scrubbed(error));
  }
}

class ClassifyingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return classified(() => this.inner.executeQuery<R>(query));
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (error) {
      throw classifyDatabaseError(error);
    }
  }
}

const unwrap = (connection: DatabaseConnection) =>
  connection instanceof ClassifyingConnection ? connection.inner : connection;

class ClassifyingDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return classified(() => this.inner.init());
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new ClassifyingConnection(await classified(() => this.inner.acquireConnection()));
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return classified(() => this.inner.beginTransaction(unwrap(connection), settings));
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return classified(() => this.inner.commitTransaction(unwrap(connection)));
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return classified(() => this.inner.rollbackTransaction(unwrap(connection)));
  }
  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]): Promise<void> {
    return classified(() => this.#savepoints("savepoint").call(this.inner, unwrap(connection), name, compile));
  }
  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]): Promise<void> {
    return classified(() => this.#savepoints("rollbackToSavepoint").call(this.inner, unwrap(connection), name, compile));
  }
  releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]): Promise<void> {
    return classified(() => this.#savepoints("releaseSavepoint").call(this.inner, unwrap(connection), name, compile));
  }
  #savepoints(method: "savepoint" | "rollbackToSavepoint" | "releaseSavepoint") {
    const fn = this.inner[method];
    if (!fn) throw new Error(`the database dialect does not support ${method}`);
    return fn;
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Wraps any kysely dialect so that unavailability errors surface as DependencyError. */
export function withDependencyErrors(dialect: Dialect): Dialect {
  return {
    createDriver: (): Driver => new ClassifyingDriver(dialect.createDriver()),
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    createAdapter: (): DialectAdapter => dialect.createAdapter(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => dialect.createIntrospector(db),
  };
}

/** The innermost cause's message ("connect ECONNREFUSED 127.0.0.1:1", not its wrapper's): for a person to read. */
export function innermostMessage(error: unknown): string {
  let inner = error;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}
