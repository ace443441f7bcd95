/**
 * Passwords: bcrypt (bcryptjs) in a pool of worker threads sized to the machine, so hashing
 * never blocks the event loop. Every password is NFC-normalized here, the same way for every
 * caller, and one longer than 72 UTF-8 bytes is refused rather than silently truncated.
 *
 * bcrypt is the one heavy step of the account actions, so it runs in a lane of its own
 * (the framework's Lane): a job per thread at once, the rest waiting in order, admitted by the
 * wait they can expect. A burst of sign-ups that can be hashed within BCRYPT_MAX_WAIT_MS (and
 * each request's deadline) is queued and served; beyond that, hash and verify throw
 * OverloadedError at once (503). A request waiting for bcrypt holds no dispatcher slot, so
 * cheap actions never wait behind a flood of logins.
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import bcrypt from "bcryptjs";
import { Piscina } from "piscina";
import { Lane, type LaneCaller, type LaneStats, type LaneTicket } from "vera-service";

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

/** bcrypt through a place admitted in the lane (Passwords.withSlot); the first job uses the place. */
export interface PasswordSlot {
  hash(password: string): Promise<string>;
  verify(password: string, digest: string): Promise<boolean>;
  /** A comparison against a real digest of the current cost, for when no account matched. */
  verifyWithoutAccount(password: string): Promise<false>;
}

export interface PasswordsOptions {
  /** bcrypt cost (log2 rounds) for new digests. */
  cost: number;
  /** Worker threads; default: one per available core. */
  threads?: number;
  /** The longest expected wait for a thread a job is admitted with (default 10 s); longer: OverloadedError. */
  maxWaitMs?: number;
  /** The most jobs waiting at once, whatever their expected wait (default 1000): a bound on memory. */
  maxQueued?: number;
  /** A thread with nothing to do ends after this long (default 5 s); the next job starts one. */
  idleThreadMs?: number;
  /** Whether the threads run at a lower OS priority than the event loop (default yes; bench/bursts.ts measures both). */
  lowerPriority?: boolean;
}

/** A bcrypt thread with nothing to do ends after this long. */
const IDLE_THREAD_MS = 5_000;

export const DEFAULT_MAX_WAIT_MS = 10_000;
export const DEFAULT_MAX_QUEUED = 1_000;

export class Passwords {
  private constructor(
    private readonly pool: Piscina<PasswordTask, string | boolean>,
    readonly cost: number,
    /** A real digest of a random password at the current cost, compared against when no account matches. */
    private readonly dummyDigest: string,
    /** Where jobs wait for a thread, admitted by their expected wait. */
    private readonly lane: Lane,
  ) {}

  /**
   * Starts the worker pool and prepares the dummy digest (one hash at the current cost), then
   * compares against it once: the thread is warm for the first caller, and the lane starts with
   * a figure of one comparison on this machine.
   */
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
      workerData: { lowerPriority: options.lowerPriority ?? true },
    });
    try {
      const dummy = (await pool.run({ op: "hash", password: randomBytes(24).toString("base64"), cost: options.cost })) as string;
      const started = performance.now();
      await pool.run({ op: "compare", password: "warm-up", digest: dummy });
      const lane = new Lane({
        name: "bcrypt",
        workers: threads,
        maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
        maxQueued: options.maxQueued ?? DEFAULT_MAX_QUEUED,
        estimateMs: performance.now() - started,
      });
      return new Passwords(pool, options.cost, dummy, lane);
    } catch (error) {
      await pool.destroy();
      throw error;
    }
  }

  /** The most worker threads at once. */
  get maxThreads(): number {
    return this.lane.stats().workers;
  }

  /**
   * Admits one bcrypt job for `work` and the steps that lead up to it (a lookup, a throttle
   * reservation): taken first, so that a flood is refused (OverloadedError, 503) before it costs
   * anything. The first job `work` runs through the slot uses the place; one never run gives it back.
   */
  async withSlot<T>(caller: LaneCaller | undefined, work: (slot: PasswordSlot) => Promise<T>): Promise<T> {
    const ticket = this.lane.admit(caller);
    try {
      return await work(this.slot(ticket, caller));
    } finally {
      ticket.release();
    }
  }

  /** A new digest at the current cost; OverloadedError when it could not be done in time. */
  hash(password: string, caller?: LaneCaller): Promise<string> {
    return this.withSlot(caller, (slot) => slot.hash(password));
  }

  /** Compares against a stored digest ($2a$, $2b$ or $2y$); OverloadedError when it could not be done in time. */
  verify(password: string, digest: string, caller?: LaneCaller): Promise<boolean> {
    return this.withSlot(caller, (slot) => slot.verify(password, digest));
  }

  /** A comparison against a real digest of the current cost, for when no account matched. */
  verifyWithoutAccount(password: string, caller?: LaneCaller): Promise<false> {
    return this.withSlot(caller, (slot) => slot.verifyWithoutAccount(password));
  }

  /** The digest verifyWithoutAccount compares against (its cost is the current one). */
  get dummyCost(): number {
    return bcrypt.getRounds(this.dummyDigest);
  }

  /** bcrypt work through an admitted place. */
  private slot(ticket: LaneTicket, caller: LaneCaller | undefined): PasswordSlot {
    const run = (task: PasswordTask) => ticket.run(() => this.pool.run(task, caller?.signal ? { signal: caller.signal } : {}));
    const slot: PasswordSlot = {
      hash: async (password) => (await run({ op: "hash", password: checked(password), cost: this.cost })) as string,
      verify: async (password, digest) => (await run({ op: "compare", password: checked(password), digest })) as boolean,
      // The same work as verify() against an account's digest, for when there is no account:
      // without it, "no such user" would answer measurably faster than "wrong password".
      verifyWithoutAccount: async (password) => {
        await slot.verify(password, this.dummyDigest);
        return false;
      },
    };
    return slot;
  }

  /** True when a stored digest was made at a lower cost than the current one. */
  needsRehash(digest: string): boolean {
    try {
      return bcrypt.getRounds(digest) < this.cost;
    } catch {
      return false;
    }
  }

  /** For the metrics: the lane's load and its figure of one job, and the threads alive now. */
  stats(): LaneStats & { threads: number } {
    return { ...this.lane.stats(), threads: this.pool.threads.length };
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
