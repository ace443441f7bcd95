/**
 * Passwords: bcrypt (bcryptjs) in a pool of worker threads sized to the machine, so hashing
 * never blocks the event loop. Every password is NFC-normalized here, the same way for every
 * caller, and one longer than 72 UTF-8 bytes is refused rather than silently truncated.
 *
 * bcrypt is the one heavy step of the account actions, so it has its own bounded lane: a job
 * per thread running and a short backlog waiting. Past that, hash and verify throw
 * OverloadedError at once (the caller gets 503) instead of queueing: a flood of logins must not
 * hold request slots for seconds and make cheap actions wait behind it.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import bcrypt from "bcryptjs";
import { Piscina } from "piscina";
import { OverloadedError } from "vera-service";

/** One job for the worker thread (account/password-worker.mjs). */
export type PasswordTask =
  | { op: "hash"; password: string; cost: number }
  | { op: "compare"; password: string; digest: string };

/** bcrypt reads only the first 72 bytes of a password. */
export const MAX_PASSWORD_BYTES = 72;

function normalizePassword(password: string): string {
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

/** bcrypt through a place held in the lane (Passwords.withSlot). */
export interface PasswordSlot {
  hash(password: string, signal?: AbortSignal): Promise<string>;
  verify(password: string, digest: string, signal?: AbortSignal): Promise<boolean>;
  /** A comparison against a real digest of the current cost, for when no account matched. */
  verifyWithoutAccount(password: string, signal?: AbortSignal): Promise<false>;
}

export interface PasswordsOptions {
  /** bcrypt cost (log2 rounds) for new digests. */
  cost: number;
  /** Worker threads; default: one per available core. */
  threads?: number;
  /** Jobs that may wait for a thread; default: two per thread. More are refused (OverloadedError). */
  queue?: number;
  /** A thread with nothing to do ends after this long (default 5 s); the next job starts one. */
  idleThreadMs?: number;
}

/** A bcrypt thread with nothing to do ends after this long. */
const IDLE_THREAD_MS = 5_000;

/** Backlog per thread when PasswordsOptions.queue is not given. */
const DEFAULT_QUEUE_PER_THREAD = 2;

export class Passwords {
  /** Jobs running or waiting for a thread. */
  private inLane = 0;

  private constructor(
    private readonly pool: Piscina<PasswordTask, string | boolean>,
    readonly cost: number,
    /** A real digest of a random password at the current cost, compared against when no account matches. */
    private readonly dummyDigest: string,
    /** The most worker threads at once. */
    readonly maxThreads: number,
    /** Jobs admitted at once: threads plus the backlog. */
    readonly capacity: number,
  ) {}

  /** Starts the worker pool and prepares the dummy digest (one hash at the current cost). */
  static async start(options: PasswordsOptions): Promise<Passwords> {
    const threads = options.threads ?? availableParallelism();
    const pool = new Piscina<PasswordTask, string | boolean>({
      filename: new URL("./password-worker.mjs", import.meta.url).href,
      // The worker is plain JavaScript: no need for the TypeScript loader in every thread.
      execArgv: [],
      // Threads start with the first jobs and end after a few idle seconds: each holds a V8
      // isolate (~9 MB), which a replica that is serving no logins has no use for. A thread
      // costs tens of milliseconds to start, the same for every caller.
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: options.idleThreadMs ?? IDLE_THREAD_MS,
    });
    try {
      const dummy = await pool.run({ op: "hash", password: randomBytes(24).toString("base64"), cost: options.cost });
      return new Passwords(pool, options.cost, dummy as string, threads, threads + (options.queue ?? DEFAULT_QUEUE_PER_THREAD * threads));
    } catch (error) {
      await pool.destroy();
      throw error;
    }
  }

  /** Whether a place in the lane is free now. */
  admits(): boolean {
    return this.inLane < this.capacity;
  }

  /**
   * Holds a place in the lane for `work` and the bcrypt jobs it runs through the slot: taken
   * before the steps that lead up to bcrypt (a lookup, a throttle reservation), so that a flood
   * is refused before it costs anything. OverloadedError at once when the lane is full.
   */
  async withSlot<T>(work: (slot: PasswordSlot) => Promise<T>): Promise<T> {
    if (this.inLane >= this.capacity) throw new OverloadedError("the bcrypt queue");
    this.inLane++;
    try {
      return await work(this.slot);
    } finally {
      this.inLane--;
    }
  }

  /** A new digest at the current cost; OverloadedError when the lane is full. */
  hash(password: string, signal?: AbortSignal): Promise<string> {
    return this.withSlot((slot) => slot.hash(password, signal));
  }

  /** Compares against a stored digest ($2a$, $2b$ or $2y$); OverloadedError when the lane is full. */
  verify(password: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    return this.withSlot((slot) => slot.verify(password, digest, signal));
  }

  /** A comparison against a real digest of the current cost, for when no account matched. */
  verifyWithoutAccount(password: string, signal?: AbortSignal): Promise<false> {
    return this.withSlot((slot) => slot.verifyWithoutAccount(password, signal));
  }

  /** bcrypt work inside a place already held (withSlot). */
  private readonly slot: PasswordSlot = {
    hash: async (password, signal) => (await this.pool.run({ op: "hash", password: checked(password), cost: this.cost }, { signal })) as string,
    verify: async (password, digest, signal) => (await this.pool.run({ op: "compare", password: checked(password), digest }, { signal })) as boolean,
    // The same work as verify() against an account's digest, for when there is no account:
    // without it, "no such user" would answer measurably faster than "wrong password".
    verifyWithoutAccount: async (password, signal) => {
      await this.slot.verify(password, this.dummyDigest, signal);
      return false;
    },
  };

  /** True when a stored digest was made at a lower cost than the current one. */
  needsRehash(digest: string): boolean {
    try {
      return bcrypt.getRounds(digest) < this.cost;
    } catch {
      return false;
    }
  }

  /** For metrics: worker threads alive now, their utilization (0…1), tasks waiting, and how many may. */
  stats(): { threads: number; utilization: number; queued: number; capacity: number } {
    return { threads: this.pool.threads.length, utilization: this.pool.utilization, queued: this.pool.queueSize, capacity: this.capacity };
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
