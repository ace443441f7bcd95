/**
 * Passwords: bcrypt (bcryptjs) in a pool of worker threads sized to the machine, so hashing
 * never blocks the event loop. Every password is NFC-normalized here, the same way for every
 * caller, and one longer than 72 UTF-8 bytes is refused rather than silently truncated.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import bcrypt from "bcryptjs";
import { Piscina } from "piscina";

/** One job for the worker thread (src/auth/password-worker.mjs). */
export type PasswordTask =
  | { op: "hash"; password: string; cost: number }
  | { op: "compare"; password: string; digest: string };

/** bcrypt reads only the first 72 bytes of a password. */
export const MAX_PASSWORD_BYTES = 72;

export function normalizePassword(password: string): string {
  return password.normalize("NFC");
}

/** Length in UTF-8 bytes after normalization: what bcrypt sees. */
export function passwordBytes(password: string): number {
  return Buffer.byteLength(normalizePassword(password), "utf8");
}

/** Thrown by hash/verify for a password bcrypt would truncate; callers check passwordBytes first and answer 400. */
export class PasswordTooLongError extends RangeError {
  constructor() {
    super(`password longer than ${MAX_PASSWORD_BYTES} bytes`);
    this.name = "PasswordTooLongError";
  }
}

export interface PasswordsOptions {
  /** bcrypt cost (log2 rounds) for new digests. */
  cost: number;
  /** Worker threads; default: one per available core. */
  threads?: number;
}

export class Passwords {
  private constructor(
    private readonly pool: Piscina<PasswordTask, string | boolean>,
    readonly cost: number,
    /** A real digest of a random password at the current cost, compared against when no account matches. */
    private readonly dummyDigest: string,
  ) {}

  /** Starts the worker pool and prepares the dummy digest (one hash at the current cost). */
  static async start(options: PasswordsOptions): Promise<Passwords> {
    const threads = options.threads ?? availableParallelism();
    const pool = new Piscina<PasswordTask, string | boolean>({
      filename: new URL("./password-worker.mjs", import.meta.url).href,
      // The worker is plain JavaScript: no need for the TypeScript loader in every thread.
      execArgv: [],
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
    try {
      const dummy = await pool.run({ op: "hash", password: randomBytes(24).toString("base64"), cost: options.cost });
      return new Passwords(pool, options.cost, dummy as string);
    } catch (error) {
      await pool.destroy();
      throw error;
    }
  }

  /** A new digest at the current cost. */
  async hash(password: string, signal?: AbortSignal): Promise<string> {
    const normalized = checked(password);
    return (await this.pool.run({ op: "hash", password: normalized, cost: this.cost }, { signal })) as string;
  }

  /** Compares against a stored digest ($2a$, $2b$ or $2y$). */
  async verify(password: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const normalized = checked(password);
    return (await this.pool.run({ op: "compare", password: normalized, digest }, { signal })) as boolean;
  }

  /**
   * The same work as verify() against an account's digest, for when there is no account:
   * without it, "no such user" would answer measurably faster than "wrong password".
   */
  async verifyWithoutAccount(password: string, signal?: AbortSignal): Promise<false> {
    await this.verify(password, this.dummyDigest, signal);
    return false;
  }

  /** True when a stored digest was made at a lower cost than the current one. */
  needsRehash(digest: string): boolean {
    try {
      return bcrypt.getRounds(digest) < this.cost;
    } catch {
      return false;
    }
  }

  /** For metrics: worker threads, their utilization (0…1) and tasks waiting. */
  stats(): { threads: number; utilization: number; queued: number } {
    return { threads: this.pool.threads.length, utilization: this.pool.utilization, queued: this.pool.queueSize };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

function checked(password: string): string {
  const normalized = normalizePassword(password);
  if (Buffer.byteLength(normalized, "utf8") > MAX_PASSWORD_BYTES) throw new PasswordTooLongError();
  return normalized;
}
