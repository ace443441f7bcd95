/**
 * A lane for heavy work that runs off the event loop (bcrypt in worker threads): at most
 * `workers` jobs run at once and the rest wait their turn, first come first served.
 *
 * It admits a job by the wait it can expect, not by a count. It keeps a moving figure of one
 * job's duration, measured on this machine as it is loaded now. A job is admitted while its
 * expected start lies within `maxWaitMs`, and its expected finish plus a margin lies before its
 * request's deadline. Otherwise it is refused at once (OverloadedError, 503). So an ordinary
 * burst is queued and served, and a flood is refused before it costs anything; `maxQueued` is
 * only a safety cap on memory, far above any burst the wait admits.
 *
 * A request waiting here or running here holds no dispatcher slot (ctx.withoutSlot): cheap
 * actions keep their MAX_CONCURRENCY places however long this queue grows.
 */
import { OverloadedError } from "./responses.ts";

/** What the lane reads of the request a job serves: a BaseContext has all of it. */
export interface LaneCaller {
  /** Aborted at the request's deadline: a job still waiting then leaves the queue. */
  readonly signal?: AbortSignal;
  /** When the request's deadline passes (ms since epoch). */
  readonly deadline?: number;
  /** Awaits a promise without holding a dispatcher slot (src/actions/request-context.ts). */
  withoutSlot?<T>(waiting: Promise<T>): Promise<T>;
}

export interface LaneOptions {
  /** Shown in the refusal's log line and the metrics. */
  name: string;
  /** Jobs that run at once (worker threads). */
  workers: number;
  /** The longest expected wait a job is admitted with, in ms. */
  maxWaitMs: number;
  /** The most jobs admitted and not yet running, whatever their expected wait: a memory bound. */
  maxQueued: number;
  /** A first figure of one job's duration in ms, until jobs have been measured. */
  estimateMs: number;
  /** Room kept between a job's expected finish and its request's deadline, in ms (default 500). */
  marginMs?: number;
}

/** A lane's load, read by the metrics. */
export interface LaneStats {
  name: string;
  workers: number;
  /** Jobs running now. */
  running: number;
  /** Jobs admitted and not running yet (waiting for a worker, or not handed their work yet). */
  queued: number;
  /** The moving figure of one job's duration, in ms. */
  estimateMs: number;
  /** The wait a job admitted now would expect, in ms. */
  expectedWaitMs: number;
  /** Jobs refused since the start, because they would have waited too long or the cap was reached. */
  refused: number;
}

/** How much of each new measurement the moving figure takes (an exponentially weighted mean). */
const SMOOTHING = 0.2;
const DEFAULT_MARGIN_MS = 500;

/** A place admitted in a lane: run one job through it, or release it unused. */
export interface LaneTicket {
  /** Runs `work` when a worker is free; the ticket is used up. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the place back when no job will run through it (a no-op once run). */
  release(): void;
}

export class Lane {
  private running = 0;
  /** Admitted jobs that have not started: waiting for a worker or not handed their work yet. */
  private admitted = 0;
  /** Jobs ready to run, in order, each woken with a worker handed over to it. */
  private readonly waiting: Array<() => void> = [];
  private estimate: number;
  private refusals = 0;

  constructor(private readonly options: LaneOptions) {
    if (!(options.workers >= 1)) throw new RangeError("a lane needs at least one worker");
    this.estimate = Math.max(1, options.estimateMs);
  }

  get name(): string {
    return this.options.name;
  }

  /** The wait a job admitted now would expect: the jobs ahead of it, spread over the workers. */
  expectedWaitMs(): number {
    const ahead = this.running + this.admitted;
    return (Math.max(0, ahead - this.options.workers + 1) * this.estimate) / this.options.workers;
  }

  /**
   * Takes a place for one job, or throws OverloadedError at once when the job could not start
   * within maxWaitMs, could not finish before the caller's deadline, or the cap is reached.
   */
  admit(caller?: LaneCaller): LaneTicket {
    if (caller?.signal?.aborted) throw caller.signal.reason;
    const wait = this.expectedWaitMs();
    const finishBy = Date.now() + wait + this.estimate + (this.options.marginMs ?? DEFAULT_MARGIN_MS);
    const tooLate = caller?.deadline !== undefined && finishBy > caller.deadline;
    if (wait > this.options.maxWaitMs || tooLate || this.admitted >= this.options.maxQueued) {
      this.refusals++;
      throw new OverloadedError(`the ${this.options.name} lane`);
    }
    this.admitted++;
    return new Ticket(this, caller);
  }

  /** admit() and run one job through the place. */
  run<T>(work: () => Promise<T>, caller?: LaneCaller): Promise<T> {
    return this.admit(caller).run(work);
  }

  stats(): LaneStats {
    return {
      name: this.options.name,
      workers: this.options.workers,
      running: this.running,
      queued: this.admitted,
      estimateMs: this.estimate,
      expectedWaitMs: this.expectedWaitMs(),
      refused: this.refusals,
    };
  }

  /** @internal A ticket gives its place back without running. */
  released(): void {
    this.admitted--;
  }

  /** @internal Waits for a worker (in order), runs the job, hands the worker on. */
  async runTicket<T>(work: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      await this.worker(signal);
    } finally {
      this.admitted--;
    }
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.measured(performance.now() - started);
      this.handOn();
    }
  }

  /** Resolves holding a worker: at once when one is free, else in order of arrival. */
  private worker(signal: AbortSignal | undefined): Promise<void> {
    if (this.running < this.options.workers && this.waiting.length === 0) {
      this.running++;
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", leave);
        resolve();
      };
      // Past its deadline a waiting job gives up its turn: nobody would read its answer.
      const leave = () => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", leave, { once: true });
      this.waiting.push(wake);
    });
  }

  /** A job finished: its worker goes to the next waiting job, or becomes free. */
  private handOn(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private measured(ms: number): void {
    this.estimate += SMOOTHING * (Math.max(1, ms) - this.estimate);
  }
}

class Ticket implements LaneTicket {
  private used = false;

  constructor(
    private readonly lane: Lane,
    private readonly caller: LaneCaller | undefined,
  ) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used) return this.lane.run(work, this.caller);
    this.used = true;
    const job = this.lane.runTicket(work, this.caller?.signal);
    return this.caller?.withoutSlot ? this.caller.withoutSlot(job) : job;
  }

  release(): void {
    if (this.used) return;
    this.used = true;
    this.lane.released();
  }
}
