/**
 * A sleep that a notification can cut short: the relay's and the PostgreSQL subscribers' wait. A
 * wake that comes while nobody sleeps is kept, so the next sleep returns at once: a notification
 * that arrives while a batch is being worked on is not lost (nor is a stop).
 */
export class Nap {
  private wakeUp: (() => void) | undefined;
  private woken = false;

  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Ends the current sleep, or the next one before it starts. */
  wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    if (wakeUp) wakeUp();
    else this.woken = true;
  }
}

/** The wait of the events loops after `failures` failures in a row: 100 ms, doubling up to 5 s. */
export const retryWaitMs = (failures: number): number => Math.min(5000, 50 * 2 ** Math.min(failures, 7));

/** A background loop that sleeps on a Nap between rounds: started once, stopped by waking it (the relay, the PostgreSQL subscribers). */
export abstract class NappingLoop {
  protected stopped = false;
  protected readonly nap = new Nap();
  private running: Promise<void> | undefined;

  start(): this {
    this.running = this.loop();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nap.wake();
    await this.running;
  }

  /** Runs until `stopped`; must not throw. */
  protected abstract loop(): Promise<void>;
}
