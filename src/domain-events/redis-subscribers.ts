/**
 * Subscribers served from the Redis stream (REDIS_URL): every replica of a service reads through
 * one Redis consumer group, so each event goes to one of them.
 *
 * - At least once: an event is acknowledged (XACK) only after every handler for it has finished.
 *   A handler that fails leaves it pending; after `retryAfterMs` of idleness it is claimed again
 *   (by whichever replica looks first) and retried, up to `maxAttempts` deliveries, then it goes
 *   to the dead-letter stream `<stream>:dead` and is logged.
 * - A redelivered event skips the handlers that are done (src/domain-events/subscribers.ts).
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { retryWaitMs } from "./nap.ts";
import { Handlers, incomingEvent, SCHEMA_MISMATCH, type IncomingEvent, type RunnerBase, type SubscriberStats } from "./subscribers.ts";

const DEFAULT_RETRY_AFTER_MS = 30_000;

export interface RedisRunnerOptions extends RunnerBase {
  /** A connection of the runner's own: XREADGROUP blocks it. */
  redis: Redis;
  stream: string;
  /**
   * Idle time before a delivered, unacknowledged event is claimed and tried again (default 30 s):
   * the time a handler may take. A handler running longer may run twice (at least once), so
   * handlers should tolerate a repeat; one that finished is never run again for the event.
   */
  retryAfterMs?: number;
  /** How long a read waits for new events (default 1000 ms). */
  blockMs?: number;
}

export class SubscriberRunner {
  private readonly handlers: Handlers;
  private readonly consumer = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly options: RedisRunnerOptions) {
    this.handlers = new Handlers(options);
  }

  get stats(): Map<string, SubscriberStats> {
    return this.handlers.stats;
  }

  get deadStream(): string {
    return `${this.options.stream}:dead`;
  }

  start(): this {
    this.running = this.loop();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private get retryAfterMs(): number {
    return this.options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  }

  private async loop(): Promise<void> {
    const { redis, stream, group, log } = this.options;
    let failures = 0;
    let lastRetryLook = 0;
    while (!this.stopped) {
      try {
        await redis.xgroup("CREATE", stream, group, "$", "MKSTREAM").catch((error: Error) => {
          if (!/BUSYGROUP/.test(error.message)) throw error;
        });
        while (!this.stopped) {
          if (Date.now() - lastRetryLook >= this.retryAfterMs / 2) {
            lastRetryLook = Date.now();
            await this.retryIdle();
          }
          const read = (await redis.xreadgroup("GROUP", group, this.consumer, "COUNT", 50, "BLOCK", this.options.blockMs ?? 1000, "STREAMS", stream, ">")) as
            | Array<[string, Array<[string, string[]]>]>
            | null;
          for (const [, entries] of read ?? []) await this.processBatch(entries);
          failures = 0;
        }
      } catch (error) {
        if (this.stopped) break;
        failures++;
        if (failures === 1 || failures % 20 === 0) log.warn({ err: error, failures }, "subscribers: reading the stream failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, retryWaitMs(failures)));
      }
    }
  }

  /** Failed events idle long enough: claimed and tried again, or dead-lettered after maxAttempts deliveries. */
  private async retryIdle(): Promise<void> {
    const { redis, stream, group } = this.options;
    const pending = (await redis.xpending(stream, group, "IDLE", this.retryAfterMs, "-", "+", 50)) as Array<[string, string, number, number]>;
    for (const [id, , , deliveries] of pending) {
      const claimed = (await redis.xclaim(stream, group, this.consumer, this.retryAfterMs, id)) as Array<[string, string[]]>;
      const entry = claimed[0];
      if (!entry) continue; // another replica claimed it first, or it is gone
      if (deliveries >= this.handlers.maxAttempts) {
        await redis.xadd(this.deadStream, "*", ...entry[1], "attempts", String(deliveries));
        await redis.xack(stream, group, id);
        const event = parseEntry(entry[1]);
        const finished = await this.handlers.finished(event ? [event.id] : []);
        for (const s of this.handlers.of(event?.type)) if (!finished.has(`${s.name} ${event!.id}`)) this.handlers.deadLettered(s, event, deliveries, this.deadStream);
        continue;
      }
      await this.processBatch([entry]);
    }
  }

  /**
   * Runs every handler of each event that has not finished it yet, in stream order; acknowledges
   * the events whose handlers all finished. One query for what is done, one to record what got
   * done and one XACK per batch, not per event.
   */
  private async processBatch(entries: ReadonlyArray<[string, string[]]>): Promise<void> {
    const { redis, stream, group } = this.options;
    const parsed = entries.map(([entryId, fields]) => ({ entryId, fields, event: parseEntry(fields) }));
    const finished = await this.handlers.finished(parsed.flatMap((p) => (p.event ? [p.event.id] : [])));
    const done: Array<{ subscriber: string; event_id: string }> = [];
    const acked: string[] = [];
    for (const { entryId, fields, event } of parsed) {
      let allDone = true;
      for (const outcome of event ? await this.handlers.run(event, finished) : []) {
        if (outcome.result === "handled") done.push({ subscriber: outcome.subscriber.name, event_id: event!.id });
        else if (outcome.result === "failed") allDone = false;
        else {
          await redis.xadd(this.deadStream, "*", ...fields, "attempts", "0", "problem", SCHEMA_MISMATCH);
          // Finished for this subscriber: a redelivery for a failing sibling must not dead-letter it again.
          done.push({ subscriber: outcome.subscriber.name, event_id: event!.id });
        }
      }
      if (allDone) acked.push(entryId);
    }
    await this.handlers.record(done);
    if (acked.length > 0) await redis.xack(stream, group, ...acked);
  }
}

/** The event of a stream entry (fields event, type, id), or undefined when it is not one of ours. */
function parseEntry(fields: string[]): IncomingEvent | undefined {
  const at = fields.indexOf("event");
  if (at === -1 || at % 2 !== 0) return undefined;
  try {
    return incomingEvent(JSON.parse(fields[at + 1]!));
  } catch {
    return undefined;
  }
}
