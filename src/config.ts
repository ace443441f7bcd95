/**
 * The one reader of the environment. Everything the service can be told comes through here,
 * is checked with zod, and is handed out as a frozen object. A bad value stops the process
 * before it connects anywhere: loadConfig throws a ConfigError listing every problem.
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { KeyConfigError, parsePreviousKeys, parseSigningKey, type AsymmetricAlgorithm } from "./auth/keys.ts";
import { MESSAGE_FORMATS, type MessageFormat } from "./actions/responses.ts";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** json: one JSON object a line (for machines); pretty: pino-pretty (for people). Unset: pretty on a terminal. */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The actions the service loads when ACTIONS_DIR is unset: actions/ beside the running code, so
 * the compiled service (dist/src/config.js) finds dist/actions/ and tsx (src/config.ts) finds
 * actions/, whatever the working directory.
 */
export const DEFAULT_ACTIONS_DIR = fileURLToPath(new URL("../actions/", import.meta.url));
/** The dev plugboard's answers to POST /: the consumer's whole payload, or the Vera Plugboard's. */
const PLUGBOARD_HTTP_MODES = ["full", "vera"] as const;
const HS_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
const ALGORITHMS = [...HS_ALGORITHMS, "RS256", "ES256"] as const;

export type JwtAlgorithm = (typeof ALGORITHMS)[number];

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const wsUrl = z
  .string()
  .url("must be a URL such as ws://localhost:4000/websocket")
  .refine((v) => /^wss?:\/\//.test(v), "must start with ws:// or wss://");

/** Comma-separated host names (or [IPv6] addresses), each with an optional :port; empty entries dropped. */
const hostList = z
  .string()
  .default("")
  .transform((v) => v.split(",").map((h) => h.trim()).filter((h) => h !== ""))
  .refine((hosts) => hosts.every((h) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(h)), "must be host names separated by commas, each with an optional :port");

/** Raw environment schema: names and defaults exactly as the README's table. */
const envSchema = z.object({
  WEBSOCKET_URL: optionalText.pipe(wsUrl.optional()),
  TOKEN: optionalText,
  DATABASE_URL: optionalText,
  POSTGRES_HOST: z.string().default("localhost"),
  POSTGRES_PORT: int(1, 65535).default("5432"),
  POSTGRES_USER: optionalText,
  POSTGRES_PASSWORD: optionalText,
  POSTGRES_DB: optionalText,
  JWT_SECRET: optionalText,
  JWT_ALGORITHM: z.enum(ALGORITHMS).default("HS256"),
  JWT_PRIVATE_KEY: optionalText,
  JWT_KEY_ID: optionalText,
  JWT_PREVIOUS_PUBLIC_KEYS: optionalText,
  JWT_ISSUER: z.string().min(1).default("vera-service"),
  JWT_AUDIENCE: z.string().min(1).default("vera-clients"),
  JWT_TTL_SECONDS: int(1).default("3600"),
  JWT_MAX_TTL_SECONDS: int(1).default("2592000"),
  MIN_NAME_LENGTH: int(0).default("1"),
  MAX_NAME_LENGTH: int(1).default("255"),
  MIN_USERNAME_LENGTH: int(1).default("3"),
  MAX_USERNAME_LENGTH: int(1).default("50"),
  MIN_EMAIL_LENGTH: int(3).default("3"),
  MAX_EMAIL_LENGTH: int(3).default("254"),
  MIN_PASSWORD_LENGTH: int(1).default("8"),
  MAX_PASSWORD_LENGTH: int(1, 72).default("72"),
  BCRYPT_COST: int(4, 31).default("12"),
  BCRYPT_THREADS: optionalText.pipe(int(1, 64).optional()),
  BCRYPT_QUEUE: optionalText.pipe(int(0, 10_000).optional()),
  LOGIN_MAX_FAILURES: int(1).default("10"),
  LOGIN_WINDOW_SECONDS: int(1).default("900"),
  MAX_CONCURRENCY: int(1, 100_000).default("64"),
  QUEUE_LIMIT: int(0, 1_000_000).default("1024"),
  MAX_REQUEST_BYTES: int(1024, 64 * 1024 * 1024).default("65536"),
  MAX_ANSWER_BYTES: int(1024, 64 * 1024 * 1024).default("1048576"),
  MESSAGE_FORMAT: z.enum(MESSAGE_FORMATS).default("text"),
  ACTION_TIMEOUT_MS: int(1, 29_000).default("25000"),
  SHUTDOWN_TIMEOUT_MS: int(0).default("20000"),
  HEARTBEAT_INTERVAL_MS: int(10, 50_000).default("30000"),
  HEALTH_PORT: optionalText.pipe(int(0, 65535).optional()),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  LOG_FORMAT: optionalText.pipe(z.enum(LOG_FORMATS).optional()),
  PLUGBOARD_PORT: int(0, 65535).default("4000"),
  PLUGBOARD_HOST: z.string().min(1).default("127.0.0.1"),
  PLUGBOARD_ALLOWED_HOSTS: hostList,
  PLUGBOARD_HTTP: z.enum(PLUGBOARD_HTTP_MODES).default("full"),
  ACTIONS_DIR: optionalText,
  ACTIONS_WATCH: z.enum(["0", "1", "false", "true"]).default("0").transform((v) => v === "1" || v === "true"),
  DATA_DIR: z.string().min(1).default(".data"),
  NODE_ENV: optionalText,
});

export interface Config {
  /** Production mode: a real plugboard is configured (NODE_ENV=production requires one, see serviceProblems). */
  production: boolean;
  nodeEnv: string | undefined;
  websocketUrl: string | undefined;
  token: string | undefined;
  database: { url: string } | undefined;
  jwt: {
    algorithm: JwtAlgorithm;
    secret: string | undefined;
    privateKey: string | undefined;
    keyId: string | undefined;
    previousPublicKeys: string | undefined;
    issuer: string;
    audience: string;
    ttlSeconds: number;
    maxTtlSeconds: number;
  };
  limits: {
    name: { min: number; max: number };
    username: { min: number; max: number };
    email: { min: number; max: number };
    password: { min: number; max: number };
  };
  /** threads: worker threads (default: the core count); queue: hashes that may wait for one (default: 2 per thread). */
  bcrypt: { cost: number; threads: number | undefined; queue: number | undefined };
  login: { maxFailures: number; windowSeconds: number };
  maxConcurrency: number;
  queueLimit: number;
  /** A request frame larger than this is answered 413 before its fields are looked at. */
  maxRequestBytes: number;
  /** An answer larger than this is replaced by a small 500 "Answer too large". */
  maxAnswerBytes: number;
  /** How answers travel: `answer` puts status_code and fields into `message` (src/actions/responses.ts). */
  messageFormat: MessageFormat;
  actionTimeoutMs: number;
  shutdownTimeoutMs: number;
  heartbeatIntervalMs: number;
  healthPort: number | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Unset: pretty when stdout is a terminal, JSON otherwise (src/ops/logger.ts). */
  logFormat: LogFormat | undefined;
  /**
   * allowedHosts: names the dev plugboard's HTTP side answers to besides its own (DNS rebinding guard);
   * httpMode: what its POST / answers, the consumer's whole payload (full) or the Vera Plugboard's answer (vera).
   */
  plugboard: { port: number; host: string; allowedHosts: string[]; httpMode: (typeof PLUGBOARD_HTTP_MODES)[number] };
  actionsDir: string;
  /** The dev loop (`npm run dev`): a change in actionsDir reloads the actions and publishes them again. */
  watchActions: boolean;
  dataDir: string;
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
  const problems: string[] = [];
  if (!source.TOKEN?.trim()) problems.push("TOKEN: required when WEBSOCKET_URL is set");
  const algorithm = source.JWT_ALGORITHM?.trim() || "HS256";
  if (algorithm.startsWith("HS") && !source.JWT_SECRET?.trim()) {
    problems.push(`JWT_SECRET: required for ${algorithm} when WEBSOCKET_URL is set`);
  }
  return problems;
}

/** Cross-field rules zod's per-field schema cannot say. */
function crossChecks(env: z.infer<typeof envSchema>, production: boolean): string[] {
  const problems: string[] = [];
  const relaxed = env.NODE_ENV === "test";
  const hs = (HS_ALGORITHMS as readonly string[]).includes(env.JWT_ALGORITHM);
  if (production) problems.push(...missingInProduction({ TOKEN: env.TOKEN, JWT_SECRET: env.JWT_SECRET, JWT_ALGORITHM: env.JWT_ALGORITHM, WEBSOCKET_URL: "set" }));
  if (hs) {
    if (env.JWT_SECRET && Buffer.byteLength(env.JWT_SECRET, "utf8") < 32) problems.push("JWT_SECRET: must be at least 32 bytes");
    if (env.JWT_PREVIOUS_PUBLIC_KEYS) problems.push(`JWT_PREVIOUS_PUBLIC_KEYS: only for RS256/ES256, not ${env.JWT_ALGORITHM}`);
  } else {
    if (!env.JWT_PRIVATE_KEY) problems.push(`JWT_PRIVATE_KEY: required for ${env.JWT_ALGORITHM}`);
    if (!env.JWT_KEY_ID) problems.push(`JWT_KEY_ID: required for ${env.JWT_ALGORITHM}`);
    problems.push(...keyProblems(env));
  }
  if (production && !relaxed && env.BCRYPT_COST < 10) problems.push("BCRYPT_COST: must be at least 10 in production");
  if (production && env.ACTIONS_WATCH) problems.push("ACTIONS_WATCH: the dev loop is for dev mode (no WEBSOCKET_URL), not production");
  for (const [name, min, max] of [
    ["NAME", env.MIN_NAME_LENGTH, env.MAX_NAME_LENGTH],
    ["USERNAME", env.MIN_USERNAME_LENGTH, env.MAX_USERNAME_LENGTH],
    ["EMAIL", env.MIN_EMAIL_LENGTH, env.MAX_EMAIL_LENGTH],
    ["PASSWORD", env.MIN_PASSWORD_LENGTH, env.MAX_PASSWORD_LENGTH],
  ] as const) {
    if (min > max) problems.push(`MIN_${name}_LENGTH: must not exceed MAX_${name}_LENGTH (${min} > ${max})`);
  }
  if (env.JWT_TTL_SECONDS > env.JWT_MAX_TTL_SECONDS) problems.push("JWT_TTL_SECONDS: must not exceed JWT_MAX_TTL_SECONDS");
  return problems;
}

/** Whether the asymmetric keys parse and suit the algorithm (messages name the variable, never the key). */
function keyProblems(env: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  const check = (work: () => void) => {
    try {
      work();
    } catch (error) {
      if (!(error instanceof KeyConfigError)) throw error;
      problems.push(error.message);
    }
  };
  let currentKid: string | undefined;
  if (env.JWT_PRIVATE_KEY && env.JWT_KEY_ID) {
    check(() => (currentKid = parseSigningKey(env.JWT_PRIVATE_KEY!, env.JWT_ALGORITHM as AsymmetricAlgorithm, env.JWT_KEY_ID!).verification.kid));
  }
  if (env.JWT_PREVIOUS_PUBLIC_KEYS) {
    check(() => {
      const previous = parsePreviousKeys(env.JWT_PREVIOUS_PUBLIC_KEYS!);
      if (previous.some((k) => k.kid === currentKid)) throw new KeyConfigError(`JWT_PREVIOUS_PUBLIC_KEYS: kid "${currentKid}" is the current JWT_KEY_ID`);
    });
  }
  return problems;
}

/** Parses an environment (process.env by default) into a frozen Config, or throws ConfigError. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    // Report what is missing too, so one run shows every problem.
    const missing = missingInProduction(source).filter((m) => !parsed.error.issues.some((i) => m.startsWith(`${i.path[0]}:`)));
    throw new ConfigError([...parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`), ...missing]);
  }
  const env = parsed.data;
  const production = env.WEBSOCKET_URL !== undefined;
  const problems = crossChecks(env, production);
  if (problems.length > 0) throw new ConfigError(problems);
  const dbUrl = databaseUrl(env);
  return deepFreeze<Config>({
    production,
    nodeEnv: env.NODE_ENV,
    websocketUrl: env.WEBSOCKET_URL,
    token: env.TOKEN,
    database: dbUrl ? { url: dbUrl } : undefined,
    jwt: {
      algorithm: env.JWT_ALGORITHM,
      secret: env.JWT_SECRET,
      privateKey: env.JWT_PRIVATE_KEY,
      keyId: env.JWT_KEY_ID,
      previousPublicKeys: env.JWT_PREVIOUS_PUBLIC_KEYS,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      ttlSeconds: env.JWT_TTL_SECONDS,
      maxTtlSeconds: env.JWT_MAX_TTL_SECONDS,
    },
    limits: {
      name: { min: env.MIN_NAME_LENGTH, max: env.MAX_NAME_LENGTH },
      username: { min: env.MIN_USERNAME_LENGTH, max: env.MAX_USERNAME_LENGTH },
      email: { min: env.MIN_EMAIL_LENGTH, max: env.MAX_EMAIL_LENGTH },
      password: { min: env.MIN_PASSWORD_LENGTH, max: env.MAX_PASSWORD_LENGTH },
    },
    bcrypt: { cost: env.BCRYPT_COST, threads: env.BCRYPT_THREADS, queue: env.BCRYPT_QUEUE },
    login: { maxFailures: env.LOGIN_MAX_FAILURES, windowSeconds: env.LOGIN_WINDOW_SECONDS },
    maxConcurrency: env.MAX_CONCURRENCY,
    queueLimit: env.QUEUE_LIMIT,
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    maxAnswerBytes: env.MAX_ANSWER_BYTES,
    messageFormat: env.MESSAGE_FORMAT,
    actionTimeoutMs: env.ACTION_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    healthPort: env.HEALTH_PORT,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    plugboard: { port: env.PLUGBOARD_PORT, host: env.PLUGBOARD_HOST, allowedHosts: env.PLUGBOARD_ALLOWED_HOSTS, httpMode: env.PLUGBOARD_HTTP },
    actionsDir: env.ACTIONS_DIR ?? DEFAULT_ACTIONS_DIR,
    watchActions: env.ACTIONS_WATCH,
    dataDir: env.DATA_DIR,
  });
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

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
