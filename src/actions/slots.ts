/**
 * The dispatcher's MAX_CONCURRENCY places. A started request holds one until it is answered,
 * except while it waits in a queue of its own (ctx.withoutSlot: a Lane's): then it is parked,
 * still in flight but holding no place, and once its wait is over it gets a place again before
 * any request that has not started.
 */
import type { DispatchSlot } from "./request-context.ts";

export class Slots {
  /** Requests holding a place. */
  running = 0;
  /** Started requests waiting outside their place. */
  parked = 0;
  /** Parked requests whose wait is over, in order, each to be given a place. */
  private readonly resuming: Array<() => void> = [];

  constructor(
    private readonly max: number,
    /** Called when a place was given up: queued work may start. */
    private readonly freed: () => void,
  ) {}

  get full(): boolean {
    return this.running >= this.max;
  }

  /** Started and not answered: running or parked. */
  get inFlight(): number {
    return this.running + this.parked;
  }

  /** Takes a place for a request that starts now (the caller has checked `full`). */
  take(): Slot {
    this.running++;
    return new Slot(this);
  }

  /** Gives free places to parked requests whose wait is over, first come first served. */
  resumeWaiting(): void {
    while (this.resuming.length > 0 && !this.full) this.resuming.shift()!();
  }

  /** @internal */
  waitToResume(resume: () => void): void {
    this.resuming.push(resume);
  }

  /** @internal */
  stopWaiting(resume: () => void): void {
    const at = this.resuming.indexOf(resume);
    if (at >= 0) this.resuming.splice(at, 1);
  }

  /** @internal */
  placeGivenUp(): void {
    this.freed();
  }
}

/** One started request's place. */
export class Slot implements DispatchSlot {
  private holding = true;
  private settled = false;
  /** Set while it waits for a place again. */
  private resume: (() => void) | undefined;

  constructor(private readonly slots: Slots) {}

  release(): void {
    if (this.settled || !this.holding) return;
    this.holding = false;
    this.slots.running--;
    this.slots.parked++;
    this.slots.placeGivenUp();
  }

  retake(): Promise<void> {
    if (this.settled || this.holding) return Promise.resolve();
    return new Promise((resolve) => {
      this.resume = () => {
        this.resume = undefined;
        if (!this.settled) {
          this.holding = true;
          this.slots.parked--;
          this.slots.running++;
        }
        resolve();
      };
      if (this.slots.full) this.slots.waitToResume(this.resume);
      else this.resume();
    });
  }

  /** The request was answered: its place, or its count among the parked, is given back. */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.holding) this.slots.running--;
    else this.slots.parked--;
    if (this.resume) {
      // Answered (its deadline passed) while waiting to resume: it goes on without a place,
      // only to find its answer already given.
      this.slots.stopWaiting(this.resume);
      this.resume();
    }
  }
}
