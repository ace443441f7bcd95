/**
 * Deadlines for runs that mostly finish long before them. A Node timer per request cost a
 * measurable share of a cheap one (bench/RESULTS.md, "The dispatch fast path"): its list was made
 * and dropped, and the native timer rescheduled, whenever the requests in flight went to zero.
 * Here a new deadline is only noted; one shared tick every TICK_MS arms a real timer, for exactly
 * the time left, for each noted run still going. A run that finishes within the tick never had a
 * timer; one that runs on times out when its deadline says, not a tick later.
 */

/** How long a deadline may go without a timer of its own. */
export const TICK_MS = 20;

export interface Deadline {
  /** The run finished first: the deadline will not fire. */
  cancel(): void;
}

class Noted implements Deadline {
  timer: NodeJS.Timeout | undefined;
  /** Dropped on cancel: a finished run's context and fields must not wait for the tick to be freed. */
  onDeadline: (() => void) | undefined;
  constructor(
    readonly at: number,
    onDeadline: () => void,
  ) {
    this.onDeadline = onDeadline;
  }
  get cancelled(): boolean {
    return this.onDeadline === undefined;
  }
  cancel(): void {
    this.onDeadline = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
  arm(now: number): void {
    this.timer = setTimeout(() => {
      const onDeadline = this.onDeadline;
      if (onDeadline === undefined) return;
      // Node's timers count from the event loop's cached time, which can lag the clock: never early.
      const left = this.at - Date.now();
      if (left > 0) return this.arm(this.at - left);
      this.onDeadline = undefined;
      onDeadline();
    }, Math.max(0, this.at - now));
  }
}

export class Deadlines {
  private noted: Noted[] = [];
  private tick: NodeJS.Timeout | undefined;

  /** Calls `onDeadline` at `at` (a Date.now() time) unless cancelled first. */
  add(at: number, onDeadline: () => void): Deadline {
    const deadline = new Noted(at, onDeadline);
    const now = Date.now();
    if (at - now <= TICK_MS) {
      deadline.arm(now); // too close to wait for the tick
      return deadline;
    }
    this.noted.push(deadline);
    this.tick ??= setTimeout(() => this.armStillRunning(), TICK_MS);
    return deadline;
  }

  private armStillRunning(): void {
    this.tick = undefined;
    const noted = this.noted;
    this.noted = [];
    const now = Date.now();
    for (const deadline of noted) if (!deadline.cancelled) deadline.arm(now);
  }
}
