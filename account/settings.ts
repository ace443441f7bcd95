/**
 * The account module's settings: JWT_*, the length limits, BCRYPT_* and LOGIN_*, read from the
 * environment by the framework (a provider's `settings`, src/providers.ts) before anything
 * starts; every problem is one line naming the variable, and the start-up stops (exit 2).
 */
import { z } from "zod/v4";
import { intSetting, optionalSetting, type SettingsMode } from "vera-service";
import { DEFAULT_MAX_QUEUED, DEFAULT_MAX_WAIT_MS } from "./passwords.ts";
import { KeyConfigError, parsePreviousKeys, parseSigningKey, type AsymmetricAlgorithm } from "./keys.ts";

const HS_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
const ALGORITHMS = [...HS_ALGORITHMS, "RS256", "ES256"] as const;

export type JwtAlgorithm = (typeof ALGORITHMS)[number];

/** The variables, their defaults as the README's table lists them. */
const envSchema = z.object({
  JWT_SECRET: optionalSetting,
  JWT_ALGORITHM: z.enum(ALGORITHMS).default("HS256"),
  JWT_PRIVATE_KEY: optionalSetting,
  JWT_KEY_ID: optionalSetting,
  JWT_PREVIOUS_PUBLIC_KEYS: optionalSetting,
  JWT_ISSUER: z.string().min(1).default("vera-service"),
  JWT_AUDIENCE: z.string().min(1).default("vera-clients"),
  JWT_TTL_SECONDS: intSetting(1).prefault("3600"),
  JWT_MAX_TTL_SECONDS: intSetting(1).prefault("2592000"),
  MIN_NAME_LENGTH: intSetting(0).prefault("1"),
  MAX_NAME_LENGTH: intSetting(1).prefault("255"),
  MIN_USERNAME_LENGTH: intSetting(1).prefault("3"),
  MAX_USERNAME_LENGTH: intSetting(1).prefault("50"),
  MIN_EMAIL_LENGTH: intSetting(3).prefault("3"),
  MAX_EMAIL_LENGTH: intSetting(3).prefault("254"),
  MIN_PASSWORD_LENGTH: intSetting(1).prefault("8"),
  MAX_PASSWORD_LENGTH: intSetting(1, 72).prefault("72"),
  BCRYPT_COST: intSetting(4, 31).prefault("12"),
  BCRYPT_THREADS: optionalSetting.pipe(intSetting(1, 64).optional()),
  BCRYPT_MAX_WAIT_MS: intSetting(0, 29_000).prefault(String(DEFAULT_MAX_WAIT_MS)),
  BCRYPT_QUEUE: intSetting(1, 100_000).prefault(String(DEFAULT_MAX_QUEUED)),
  LOGIN_MAX_FAILURES: intSetting(1).prefault("10"),
  LOGIN_WINDOW_SECONDS: intSetting(1).prefault("900"),
});

type Env = z.infer<typeof envSchema>;

export interface AccountSettings {
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
  /**
   * threads: worker threads (default: the core count); maxWaitMs: the longest expected wait a
   * hash is admitted with; maxQueued: the most hashes waiting at once, a safety cap on memory.
   */
  bcrypt: { cost: number; threads: number | undefined; maxWaitMs: number; maxQueued: number };
  login: { maxFailures: number; windowSeconds: number };
}

/** The settings schema for a mode: production demands a JWT_SECRET (HS*) and a bcrypt cost of 10 or more. */
export function accountSettings(mode: SettingsMode): z.ZodType<AccountSettings> {
  return envSchema
    .superRefine((env, ctx) => {
      for (const problem of crossChecks(env, mode)) {
        const [variable, ...rest] = problem.split(": ");
        ctx.addIssue({ code: "custom", path: [variable!], message: rest.join(": ") });
      }
    })
    .transform(toSettings);
}

function toSettings(env: Env): AccountSettings {
  return {
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
    bcrypt: { cost: env.BCRYPT_COST, threads: env.BCRYPT_THREADS, maxWaitMs: env.BCRYPT_MAX_WAIT_MS, maxQueued: env.BCRYPT_QUEUE },
    login: { maxFailures: env.LOGIN_MAX_FAILURES, windowSeconds: env.LOGIN_WINDOW_SECONDS },
  };
}

/** Cross-field rules zod's per-field schema cannot say, as "VARIABLE: problem". */
function crossChecks(env: Env, mode: SettingsMode): string[] {
  const problems: string[] = [];
  const hs = (HS_ALGORITHMS as readonly string[]).includes(env.JWT_ALGORITHM);
  if (mode.production && hs && !env.JWT_SECRET) problems.push(`JWT_SECRET: required for ${env.JWT_ALGORITHM} when WEBSOCKET_URL is set`);
  if (hs) {
    if (env.JWT_SECRET && Buffer.byteLength(env.JWT_SECRET, "utf8") < 32) problems.push("JWT_SECRET: must be at least 32 bytes");
    if (env.JWT_PREVIOUS_PUBLIC_KEYS) problems.push(`JWT_PREVIOUS_PUBLIC_KEYS: only for RS256/ES256, not ${env.JWT_ALGORITHM}`);
  } else {
    if (!env.JWT_PRIVATE_KEY) problems.push(`JWT_PRIVATE_KEY: required for ${env.JWT_ALGORITHM}`);
    if (!env.JWT_KEY_ID) problems.push(`JWT_KEY_ID: required for ${env.JWT_ALGORITHM}`);
    problems.push(...keyProblems(env));
  }
  if (mode.production && !mode.test && env.BCRYPT_COST < 10) problems.push("BCRYPT_COST: must be at least 10 in production");
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
function keyProblems(env: Env): string[] {
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
