/**
 * The one reader of the environment. Everything the service can be told comes through here,
 * is checked with zod, and is handed out as a frozen object. A bad value stops the process
 * before it connects anywhere: loadConfig throws a ConfigError listing every problem.
 */
import path from "node:path";
import { findPackageJson } from "./package-json.ts";
import { z } from "zod/v4";
import { parseWith, type SchemaIssue } from "./schema/parse.ts";
import type { AnySchema } from "./schema/types.ts";
import { DEFAULT_MESSAGE_FORMAT, MESSAGE_FORMATS, type MessageFormat } from "./actions/responses.ts";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** json: one JSON object a line (for machines); pretty: pino-pretty (for people). Unset: pretty on a terminal. */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The app's folders, from the app's root: APP_DIR (default: the working directory, the app's
 * root) holds actions/, subscribers/ and migrations/, each overridable on its own. The
 * `vera-service` command sets APP_DIR: the sources (.) for `dev`, the build (dist) for `start`.
 * Nothing is ever looked for beside the framework's own files.
 */
export const APP_FOLDERS = { actions: "actions", subscribers: "subscribers", migrations: "migrations" } as const;
/** The dev plugboard's answers to POST /: the consumer's whole payload, or the Vera Plugboard's. */
const PLUGBOARD_HTTP_MODES = ["full", "vera"] as const;
/**
 * A whole number from an environment variable, between `min` and `max` (settings helper, public).
 * The settings helpers are zod 4 schemas: compose them with `import { z } from "zod/v4"`, which
 * zod 3.25+ has too.
 */
export const intSetting = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** An environment variable that may be unset or blank (then undefined) (settings helper, public). */
export const optionalSetting = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const wsUrl = z
  .string()
  .url("must be a URL such as ws://localhost:4000/websocket")
  .refine((v) => /^wss?:\/\//.test(v), "must start with ws:// or wss://");

const httpUrl = z
  .string()
  .url("must be a URL such as http://localhost:4000")
  .refine((v) => /^https?:\/\//.test(v), "must start with http:// or https://");

/** The dev plugboard's further services: `name:token` pairs separated by commas. */
const serviceList = z
  .string()
  .default("")
  .transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== ""))
  .refine((entries) => entries.every((e) => /^[A-Za-z0-9_.-]{1,64}:\S{8,}$/.test(e)), "must be name:token pairs separated by commas (names of letters, digits, _ . -; tokens of 8 characters or more)")
  .transform((entries) => entries.map((e) => ({ name: e.slice(0, e.indexOf(":")), token: e.slice(e.indexOf(":") + 1) })));

/** Comma-separated host names (or [IPv6] addresses), each with an optional :port; empty entries dropped. */
const hostList = z
  .string()
  .default("")
  .transform((v) => v.split(",").map((h) => h.trim()).filter((h) => h !== ""))
  .refine((hosts) => hosts.every((h) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(h)), "must be host names separated by commas, each with an optional :port");

/**
 * A PostgreSQL URL. A value that does not parse is named as such (pg would read "not a url" as
 * a host name and fail later with ENOTFOUND); the value itself is never echoed: it may hold a password.
 */
const postgresUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "cannot be parsed as a URL: expected postgres://user:password@host:5432/database" });
    return;
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    ctx.addIssue({ code: "custom", message: `must be a postgres:// (or postgresql://) URL, not ${url.protocol}//` });
  } else if (url.hostname === "" && !url.searchParams.has("host")) {
    ctx.addIssue({ code: "custom", message: "names no host: expected postgres://user:password@host:5432/database" });
  }
});

/**
 * ANSWER_HOLD_MS's default: the Vera Plugboard registers a request's waiting caller after it has
 * pushed the request, and drops an answer that arrives sooner. Measured against it (bench/RESULTS.md):
 * 2, 5 and 10 ms each lost no answered call in 45,000 to 90,000; 0 lost 21 in 10,000. 5 ms leaves
 * room for a plugboard busier than the one measured.
 */
export const DEFAULT_ANSWER_HOLD_MS = 5;

/** Raw environment schema: names and defaults exactly as the README's table. */
const envSchema = z.object({
  WEBSOCKET_URL: optionalSetting.pipe(wsUrl.optional()),
  TOKEN: optionalSetting,
  DATABASE_URL: optionalSetting.pipe(postgresUrl.optional()),
  POSTGRES_HOST: z.string().default("localhost"),
  POSTGRES_PORT: intSetting(1, 65535).prefault("5432"),
  POSTGRES_USER: optionalSetting,
  POSTGRES_PASSWORD: optionalSetting,
  POSTGRES_DB: optionalSetting,
  MAX_CONCURRENCY: intSetting(1, 100_000).prefault("64"),
  QUEUE_LIMIT: intSetting(0, 1_000_000).prefault("1024"),
  MAX_REQUEST_BYTES: intSetting(1024, 64 * 1024 * 1024).prefault("65536"),
  MAX_ANSWER_BYTES: intSetting(1024, 64 * 1024 * 1024).prefault("1048576"),
  MESSAGE_FORMAT: z.enum(MESSAGE_FORMATS).default(DEFAULT_MESSAGE_FORMAT),
  ANSWER_HOLD_MS: optionalSetting.pipe(intSetting(0, 1000).optional()),
  ACTION_TIMEOUT_MS: intSetting(1, 29_000).prefault("25000"),
  SHUTDOWN_TIMEOUT_MS: intSetting(0).prefault("20000"),
  HEARTBEAT_INTERVAL_MS: intSetting(10, 50_000).prefault("30000"),
  HEALTH_PORT: optionalSetting.pipe(intSetting(0, 65535).optional()),
  HEALTH_HOST: optionalSetting,
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  LOG_FORMAT: optionalSetting.pipe(z.enum(LOG_FORMATS).optional()),
  PLUGBOARD_PORT: intSetting(0, 65535).prefault("4000"),
  PLUGBOARD_HOST: z.string().min(1).default("127.0.0.1"),
  PLUGBOARD_ALLOWED_HOSTS: hostList,
  PLUGBOARD_HTTP: z.enum(PLUGBOARD_HTTP_MODES).default("full"),
  PLUGBOARD_SERVICES: serviceList,
  PLUGBOARD_HTTP_URL: optionalSetting.pipe(httpUrl.optional()),
  PLUGBOARD_API_TOKEN: optionalSetting,
  CALL_TIMEOUT_MS: intSetting(1, 600_000).prefault("10000"),
  APP_DIR: z.string().min(1).default("."),
  ACTIONS_DIR: optionalSetting,
  MIGRATIONS_DIR: optionalSetting,
  ACTIONS_WATCH: z.enum(["0", "1", "false", "true"]).default("0").transform((v) => v === "1" || v === "true"),
  DATA_DIR: z.string().min(1).default(".data"),
  REDIS_URL: optionalSetting.pipe(z.string().url("must be a redis:// URL").optional()),
  EVENTS_STREAM: z.string().min(1).max(200).default("vera:events"),
  EVENTS_MAXLEN: intSetting(1000, 100_000_000).prefault("1000000"),
  EVENTS_RETENTION_HOURS: intSetting(1, 24 * 365).prefault("168"),
  EVENTS_GROUP: optionalSetting.pipe(z.string().max(200).optional()),
  SERVICE_NAME: optionalSetting.pipe(z.string().max(100).regex(/^[\w@./-]+$/, "must be letters, digits and _ . - / @ only").optional()),
  SUBSCRIBERS_DIR: optionalSetting,
  NODE_ENV: optionalSetting,
});

export interface Config {
  /** Production mode: a real plugboard is configured (NODE_ENV=production requires one, see serviceProblems). */
  production: boolean;
  nodeEnv: string | undefined;
  websocketUrl: string | undefined;
  token: string | undefined;
  database: { url: string } | undefined;
  maxConcurrency: number;
  queueLimit: number;
  /** A request frame larger than this is answered 413 before its fields are looked at. */
  maxRequestBytes: number;
  /** An answer larger than this is replaced by a small 500 "Answer too large". */
  maxAnswerBytes: number;
  /** How answers travel: `answer` puts status_code and fields into `message` (src/actions/responses.ts). */
  messageFormat: MessageFormat;
  /** An answer leaves no sooner than this many ms after its request arrived (src/plugboard/outbox.ts). */
  answerHoldMs: number;
  actionTimeoutMs: number;
  shutdownTimeoutMs: number;
  heartbeatIntervalMs: number;
  healthPort: number | undefined;
  /**
   * Where HEALTH_PORT listens: HEALTH_HOST; unset, every interface in production (a container's
   * probes come from outside it) and 127.0.0.1 in dev mode (a laptop's metrics are nobody else's).
   */
  healthHost: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Unset: pretty when stdout is a terminal, JSON otherwise (src/ops/logger.ts). */
  logFormat: LogFormat | undefined;
  /**
   * allowedHosts: names the dev plugboard's HTTP side answers to besides its own (DNS rebinding guard);
   * httpMode: what its POST / answers, the consumer's whole payload (full) or the Vera Plugboard's answer (vera).
   */
  plugboard: {
    port: number;
    host: string;
    allowedHosts: string[];
    httpMode: (typeof PLUGBOARD_HTTP_MODES)[number];
    /** Further services the dev plugboard hosts, each joined with its own token. */
    services: Array<{ name: string; token: string }>;
  };
  /**
   * Calls to other services through the plugboard's HTTP API (src/calls/): its URL (unset:
   * derived from WEBSOCKET_URL, or the dev plugboard's), the account API token (unset in dev
   * mode: the dev plugboard's), and how long a call made outside a request may take.
   */
  calls: { httpUrl: string | undefined; apiToken: string | undefined; timeoutMs: number };
  /** The events relay (src/domain-events/relay.ts): on when redisUrl is set and the app has a database. */
  events: { redisUrl: string | undefined; stream: string; maxLen: number; retentionMs: number; group: string; subscribersDir: string };
  /** The app's folder (APP_DIR), and the folders read from it: actions/, subscribers/ (in `events`), migrations/. */
  appDir: string;
  /** SERVICE_NAME, else the name in the app's package.json (found from APP_DIR up), else "vera-service": in every log line and the database's application_name. */
  serviceName: string;
  actionsDir: string;
  migrationsDir: string;
  /** The dev loop (`npm run dev`): a change in actionsDir reloads the actions and publishes them again. */
  watchActions: boolean;
  dataDir: string;
  /** The environment this was read from: providers' settings are read from it too (src/providers.ts). */
  env: Readonly<Record<string, string | undefined>>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

function databaseUrl(env: z.infer<typeof envSchema>): string | undefined {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.POSTGRES_USER && !env.POSTGRES_DB && !env.POSTGRES_PASSWORD) return undefined;
  const url = new URL("postgres://localhost");
  url.hostname = env.POSTGRES_HOST;
  url.port = String(env.POSTGRES_PORT);
  url.username = env.POSTGRES_USER ?? "";
  url.password = env.POSTGRES_PASSWORD ?? "";
  url.pathname = `/${env.POSTGRES_DB ?? env.POSTGRES_USER ?? "postgres"}`;
  return url.toString();
}

/** The values production mode cannot do without, judged on the raw environment. */
function missingInProduction(source: Record<string, string | undefined>): string[] {
  if (!source.WEBSOCKET_URL?.trim()) return [];
  return source.TOKEN?.trim() ? [] : ["TOKEN: required when WEBSOCKET_URL is set"];
}

/** Cross-field rules zod's per-field schema cannot say. */
function crossChecks(env: z.infer<typeof envSchema>, production: boolean): string[] {
  const problems: string[] = [];
  if (production) problems.push(...missingInProduction({ TOKEN: env.TOKEN, WEBSOCKET_URL: "set" }));
  if (production && env.ACTIONS_WATCH) problems.push("ACTIONS_WATCH: the dev loop is for dev mode (no WEBSOCKET_URL), not production");
  return problems;
}

/** Parses an environment (process.env by default) into a frozen Config, or throws ConfigError. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = parseWith<z.output<typeof envSchema>>(envSchema, source);
  if (!parsed.success) {
    // Report what is missing too, so one run shows every problem.
    const missing = missingInProduction(source).filter((m) => !parsed.issues.some((i) => m.startsWith(`${String(i.path[0])}:`)));
    throw new ConfigError([...problemsOf(parsed.issues), ...missing]);
  }
  const env = parsed.data;
  const production = env.WEBSOCKET_URL !== undefined;
  const problems = crossChecks(env, production);
  if (problems.length > 0) throw new ConfigError(problems);
  const dbUrl = databaseUrl(env);
  const serviceName = env.SERVICE_NAME ?? appPackageName(path.resolve(env.APP_DIR)) ?? "vera-service";
  return deepFreeze<Config>({
    production,
    nodeEnv: env.NODE_ENV,
    websocketUrl: env.WEBSOCKET_URL,
    token: env.TOKEN,
    database: dbUrl ? { url: dbUrl } : undefined,
    maxConcurrency: env.MAX_CONCURRENCY,
    queueLimit: env.QUEUE_LIMIT,
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    maxAnswerBytes: env.MAX_ANSWER_BYTES,
    messageFormat: env.MESSAGE_FORMAT,
    // Dev mode's own plugboard registers a caller before it pushes the request: no race to wait out.
    answerHoldMs: env.ANSWER_HOLD_MS ?? (production ? DEFAULT_ANSWER_HOLD_MS : 0),
    actionTimeoutMs: env.ACTION_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    healthPort: env.HEALTH_PORT,
    healthHost: env.HEALTH_HOST ?? (production ? undefined : "127.0.0.1"),
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    plugboard: { port: env.PLUGBOARD_PORT, host: env.PLUGBOARD_HOST, allowedHosts: env.PLUGBOARD_ALLOWED_HOSTS, httpMode: env.PLUGBOARD_HTTP, services: env.PLUGBOARD_SERVICES },
    calls: { httpUrl: env.PLUGBOARD_HTTP_URL ?? httpSideOf(env.WEBSOCKET_URL), apiToken: env.PLUGBOARD_API_TOKEN, timeoutMs: env.CALL_TIMEOUT_MS },
    appDir: path.resolve(env.APP_DIR),
    serviceName,
    actionsDir: path.resolve(env.ACTIONS_DIR ?? path.join(env.APP_DIR, APP_FOLDERS.actions)),
    migrationsDir: path.resolve(env.MIGRATIONS_DIR ?? path.join(env.APP_DIR, APP_FOLDERS.migrations)),
    watchActions: env.ACTIONS_WATCH,
    dataDir: env.DATA_DIR,
    events: {
      redisUrl: env.REDIS_URL,
      stream: env.EVENTS_STREAM,
      maxLen: env.EVENTS_MAXLEN,
      retentionMs: env.EVENTS_RETENTION_HOURS * 3_600_000,
      group: env.EVENTS_GROUP ?? serviceName,
      subscribersDir: path.resolve(env.SUBSCRIBERS_DIR ?? path.join(env.APP_DIR, APP_FOLDERS.subscribers)),
    },
    env: { ...source },
  });
}

/** The name in the nearest package.json at or above the app's folder (dist/ has none: its app's is above). */
function appPackageName(appDir: string): string | undefined {
  const name = findPackageJson(appDir, { levels: 4 })?.manifest.name;
  return typeof name === "string" && name !== "" ? name : undefined;
}

/** The plugboard's HTTP side (`POST /`) from its socket URL: the same host, http(s) for ws(s). */
export function httpSideOf(websocketUrl: string | undefined): string | undefined {
  if (websocketUrl === undefined) return undefined;
  const url = new URL(websocketUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

/**
 * What the service itself (not the dev plugboard or `npm run migrate`) cannot start without.
 * NODE_ENV=production without WEBSOCKET_URL would otherwise start the dev plugboard and the
 * embedded defaults in production: it is refused instead.
 */
export function serviceProblems(config: Readonly<Config>): string[] {
  if (config.nodeEnv === "production" && !config.websocketUrl) {
    return ["WEBSOCKET_URL: required when NODE_ENV=production (without it the service would run the dev plugboard)"];
  }
  return [];
}

/**
 * A provider's settings (src/providers.ts), read from the environment like the framework's own:
 * its schema keyed by variable names; every problem one line naming the variable (ConfigError).
 */
export function readSettings<S>(schema: AnySchema<S>, source: Readonly<Record<string, string | undefined>> = process.env): Readonly<S> {
  const parsed = parseWith<S>(schema, source);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.issues));
  return deepFreeze(parsed.data);
}

/** "VARIABLE: problem", one per issue. */
function problemsOf(issues: readonly SchemaIssue[]): string[] {
  return issues.flatMap((i) => (i.unknownKeys ? i.unknownKeys.map((k) => `${k}: is not a known setting`) : [`${i.path.map(String).join(".")}: ${i.message}`]));
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
