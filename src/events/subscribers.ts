/**
 * Subscribers: the other half of the events (the relay is the first, src/events/relay.ts). A
 * subscriber handles one or more event types from the stream; every replica of a service reads
 * through one Redis consumer group, so each event is handled once per service.
 *
 * - At least once: an event is acknowledged (XACK) only after every handler for it has finished.
 *   A handler that fails leaves it pending; after `retryAfterMs` of idleness it is claimed again
 *   (by whichever replica looks first) and retried, up to `maxAttempts` deliveries, then it goes
 *   to the dead-letter stream `<stream>:dead` and is logged.
 * - Idempotent per handler: the `handled_events` table records (subscriber, event_id) when a
 *   handler finishes, and a redelivered event skips the handlers that are done.
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { Kysely } from "kysely";
import type { z } from "zod";
import type { Logger } from "../ops/logger.ts";

/** What a handler receives: the envelope, its `data` checked by the subscriber's schema. */
export interface ReceivedEvent<D> {
  id: string;
  type: string;
  subject: string;
  actor: string | null;
  data: D;
  envelope: Record<string, unknown>;
}

export interface SubscriberDefinition<S extends z.ZodTypeAny> {
  /** Unique per service: the idempotency records are kept under it. */
  name: string;
  events: readonly string[];
  /** The shape of `data` this subscriber relies on; an event whose data does not match is dead-lettered at once. */
  schema: S;
  handle(event: ReceivedEvent<z.infer<S>>, ctx: { log: Logger }): Promise<void> | void;
}

export type Subscriber = SubscriberDefinition<z.ZodTypeAny> & { readonly [SUBSCRIBER]: true };

const SUBSCRIBER = Symbol("vera-service subscriber");

/** Declares a subscriber; a file in subscribers/ exports it (src/events/load-subscribers.ts finds it). */
export function subscriber<S extends z.ZodTypeAny>(definition: SubscriberDefinition<S>): Subscriber {
  return { ...(definition as SubscriberDefinition<z.ZodTypeAny>), [SUBSCRIBER]: true };
}

export function isSubscriber(value: unknown): value is Subscriber {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[SUBSCRIBER] === true;
}

const DEFAULT_RETRY_AFTER_MS = 30_000;

export interface SubscriberStats {
  handled: number;
  failed: number;
  deadLettered: number;
}

export interface RunnerOptions {
  /** A connection of the runner's own: XREADGROUP blocks it. */
  redis: Redis;
  db: Kysely<any>;
  stream: string;
  group: string;
  subscribers: readonly Subscriber[];
  log: Logger;
  /** Deliveries before an event is dead-lettered (default 5). */
  maxAttempts?: number;
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
  readonly stats = new Map<string, SubscriberStats>();
  private readonly consumer = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly options: RunnerOptions) {
    for (const s of options.subscribers) this.stats.set(s.name, { handled: 0, failed: 0, deadLettered: 0 });
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
          if (Date.now() - lastRetryLook >= (this.options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS) / 2) {
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
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** Math.min(failures, 7))));
      }
    }
  }

  /** Failed events idle long enough: claimed and tried again, or dead-lettered after maxAttempts deliveries. */
  private async retryIdle(): Promise<void> {
    const { redis, stream, group, log } = this.options;
    const pending = (await redis.xpending(stream, group, "IDLE", this.options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS, "-", "+", 50)) as Array<[string, string, number, number]>;
    for (const [id, , , deliveries] of pending) {
      const claimed = (await redis.xclaim(stream, group, this.consumer, this.options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS, id)) as Array<[string, string[]]>;
      const entry = claimed[0];
      if (!entry) continue; // another replica claimed it first, or it is gone
      if (deliveries >= (this.options.maxAttempts ?? 5)) {
        await redis.xadd(this.deadStream, "*", ...entry[1], "attempts", String(deliveries));
        await redis.xack(stream, group, id);
        const event = parseEntry(entry[1]);
        for (const s of this.subscribersOf(event?.type)) this.stats.get(s.name)!.deadLettered++;
        log.error({ event_id: event?.id, event_type: event?.type, attempts: deliveries, dead_stream: this.deadStream }, "subscribers: an event kept failing; moved to the dead-letter stream");
        continue;
      }
      await this.processBatch([entry]);
    }
  }

  private subscribersOf(type: string | undefined): Subscriber[] {
    return type === undefined ? [] : this.options.subscribers.filter((s) => s.events.includes(type));
  }

  /**
   * Runs every handler of each event that has not finished it yet, in stream order; acknowledges
   * the events whose handlers all finished. One query for what is done, one to record what got
   * done and one XACK per batch, not per event.
   */
  private async processBatch(entries: ReadonlyArray<[string, string[]]>): Promise<void> {
    const { redis, stream, group, db, log } = this.options;
    const parsed = entries.map(([entryId, fields]) => ({ entryId, fields, event: parseEntry(fields) }));
    const ids = parsed.flatMap((p) => (p.event && UUID.test(p.event.id) ? [p.event.id] : []));
    const finished = new Set<string>();
    if (ids.length > 0) {
      const rows = await db.selectFrom("handled_events").select(["subscriber", "event_id"]).where("event_id", "in", ids).execute();
      for (const row of rows as Array<{ subscriber: string; event_id: string }>) finished.add(`${row.subscriber} ${row.event_id}`);
    }
    const done: Array<{ subscriber: string; event_id: string }> = [];
    const acked: string[] = [];
    for (const { entryId, fields, event } of parsed) {
      let allDone = true;
      for (const s of this.subscribersOf(event?.type)) {
        if (finished.has(`${s.name} ${event!.id}`)) continue;
        const stats = this.stats.get(s.name)!;
        const data = s.schema.safeParse(event!.envelope.data);
        if (!data.success) {
          // Retrying cannot change the data: straight to the dead letters.
          await redis.xadd(this.deadStream, "*", ...fields, "attempts", "0", "problem", "data does not match the subscriber's schema");
          stats.deadLettered++;
          log.error({ subscriber: s.name, event_id: event!.id, event_type: event!.type }, "subscribers: the event's data does not match the subscriber's schema; dead-lettered");
          continue;
        }
        try {
          await s.handle({ ...event!, data: data.data }, { log: log.child({ subscriber: s.name, event_id: event!.id }) });
          if (UUID.test(event!.id)) done.push({ subscriber: s.name, event_id: event!.id }); // ours always are; a foreign id is not recorded
          stats.handled++;
        } catch (error) {
          allDone = false;
          stats.failed++;
          log.warn({ err: error, subscriber: s.name, event_id: event!.id, event_type: event!.type }, "subscribers: a handler failed; the event will be tried again");
        }
      }
      if (allDone) acked.push(entryId);
    }
    if (done.length > 0) await db.insertInto("handled_events").values(done).onConflict((oc) => oc.doNothing()).execute();
    if (acked.length > 0) await redis.xack(stream, group, ...acked);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The envelope of a stream entry (fields event, type, id), or undefined when it is not one of ours. */
function parseEntry(fields: string[]): { id: string; type: string; subject: string; actor: string | null; envelope: Record<string, unknown> } | undefined {
  const at = fields.indexOf("event");
  if (at === -1 || at % 2 !== 0) return undefined;
  try {
    const envelope = JSON.parse(fields[at + 1]!) as Record<string, unknown>;
    return { id: String(envelope.event_id), type: String(envelope.event_type), subject: String(envelope.subject), actor: (envelope.actor as string | null) ?? null, envelope };
  } catch {
    return undefined;
  }
}
