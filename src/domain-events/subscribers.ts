/**
 * Subscribers: the other half of the events (the relay is the first, src/domain-events/relay.ts). A
 * subscriber handles one or more event types; every replica of a service reads as one consumer
 * group (EVENTS_GROUP), so each event is handled once per service, at least once:
 *
 * - from a Redis stream with REDIS_URL (src/domain-events/redis-subscribers.ts),
 * - else from the outbox in PostgreSQL (src/domain-events/log-subscribers.ts).
 *
 * Both run an event's handlers here: each subscriber of its type that has not finished it yet
 * (the `handled_events` table records (subscriber, event_id) when a handler finishes), its
 * `data` checked by the subscriber's schema first.
 */
import type { Kysely } from "kysely";
import { zodMajor } from "../schema/flavor.ts";
import { NotASchemaError, parseWith } from "../schema/parse.ts";
import type { AnySchema, OutputOf } from "../schema/types.ts";
import type { Logger } from "../ops/logger.ts";
import { ProviderNotStartedError, type Provider } from "../providers.ts";

/** What a handler receives: the envelope, its `data` checked by the subscriber's schema. */
export interface ReceivedEvent<D> {
  id: string;
  type: string;
  subject: string;
  actor: string | null;
  data: D;
  envelope: Record<string, unknown>;
}

/** A handler's context, like an action's: its logger and the providers it declared. */
export interface SubscriberContext {
  log: Logger;
  get<T>(provider: Provider<T>): T;
}

export interface SubscriberDefinition<S extends AnySchema> {
  /** Unique per service: the idempotency records are kept under it. */
  name: string;
  events: readonly string[];
  /** The shape of `data` this subscriber relies on (a schema of the app's zod, 3.25+ or 4); an event whose data does not match is dead-lettered at once. */
  schema: S;
  /** Providers the handler reads with ctx.get (the app starts them with the actions'). */
  providers?: ReadonlyArray<Provider<any>>;
  handle(event: ReceivedEvent<OutputOf<S>>, ctx: SubscriberContext): Promise<void> | void;
}

export type Subscriber = SubscriberDefinition<AnySchema> & { readonly [SUBSCRIBER]: true };

const SUBSCRIBER = Symbol("vera-service subscriber");

/** Declares a subscriber; a file in subscribers/ exports it (src/domain-events/load-subscribers.ts finds it). */
export function subscriber<S extends AnySchema>(definition: SubscriberDefinition<S>): Subscriber {
  if (zodMajor(definition.schema) === undefined) throw new NotASchemaError(`the schema of subscriber ${JSON.stringify(definition.name)}`);
  return { ...(definition as unknown as SubscriberDefinition<AnySchema>), [SUBSCRIBER]: true };
}

export function isSubscriber(value: unknown): value is Subscriber {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[SUBSCRIBER] === true;
}

export interface SubscriberStats {
  handled: number;
  failed: number;
  deadLettered: number;
}

/** Deliveries before an event is dead-lettered, unless a runner is told otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** What both runners are given. */
export interface RunnerBase {
  db: Kysely<any>;
  group: string;
  subscribers: readonly Subscriber[];
  log: Logger;
  /** The app's providers (a handler's ctx.get); without it, ctx.get throws. */
  get?: <T>(provider: Provider<T>) => T;
  /** Deliveries before an event is dead-lettered (default DEFAULT_MAX_ATTEMPTS). */
  maxAttempts?: number;
}

/** An event as the runners hand it on. */
export interface IncomingEvent {
  id: string;
  type: string;
  subject: string;
  actor: string | null;
  envelope: Record<string, unknown>;
}

export function incomingEvent(envelope: unknown): IncomingEvent | undefined {
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) return undefined;
  const e = envelope as Record<string, unknown>;
  return { id: String(e.event_id), type: String(e.event_type), subject: String(e.subject), actor: (e.actor as string | null) ?? null, envelope: e };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Outcome = { subscriber: Subscriber; result: "handled" } | { subscriber: Subscriber; result: "failed"; error: unknown } | { subscriber: Subscriber; result: "mismatch" };

/** Why an event goes to the dead letters without a retry. */
export const SCHEMA_MISMATCH = "data does not match the subscriber's schema";

/** Runs the handlers, keeps the counts, records what finished; shared by both runners. */
export class Handlers {
  readonly stats = new Map<string, SubscriberStats>();
  readonly names: string[];
  private readonly get: SubscriberContext["get"];

  constructor(private readonly base: RunnerBase) {
    for (const s of base.subscribers) this.stats.set(s.name, { handled: 0, failed: 0, deadLettered: 0 });
    this.names = base.subscribers.map((s) => s.name);
    this.get = (base.get ?? ((provider: Provider<unknown>) => {
      throw new ProviderNotStartedError(provider.name);
    })) as SubscriberContext["get"];
  }

  get maxAttempts(): number {
    return this.base.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  of(type: string | undefined): Subscriber[] {
    return type === undefined ? [] : this.base.subscribers.filter((s) => s.events.includes(type));
  }

  byName(name: string): Subscriber | undefined {
    return this.base.subscribers.find((s) => s.name === name);
  }

  /** "subscriber event_id" of each handler that has finished one of these events. */
  async finished(eventIds: readonly string[], db: Kysely<any> = this.base.db): Promise<Set<string>> {
    const ids = eventIds.filter((id) => UUID.test(id));
    const finished = new Set<string>();
    if (ids.length === 0) return finished;
    const rows = await db.selectFrom("handled_events").select(["subscriber", "event_id"]).where("event_id", "in", ids).execute();
    for (const row of rows as Array<{ subscriber: string; event_id: string }>) finished.add(`${row.subscriber} ${row.event_id}`);
    return finished;
  }

  async record(done: ReadonlyArray<{ subscriber: string; event_id: string }>, db: Kysely<any> = this.base.db): Promise<void> {
    const ours = done.filter((d) => UUID.test(d.event_id)); // ours always are; a foreign id is not recorded
    if (ours.length > 0) await db.insertInto("handled_events").values(ours).onConflict((oc) => oc.doNothing()).execute();
  }

  /** Runs `subscribers` (default: every subscriber of the event's type) on the event, skipping those in `finished`. */
  async run(event: IncomingEvent, finished: ReadonlySet<string>, subscribers = this.of(event.type)): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const s of subscribers) {
      if (finished.has(`${s.name} ${event.id}`)) continue;
      const stats = this.stats.get(s.name)!;
      const data = parseWith(s.schema, event.envelope.data);
      if (!data.success) {
        // Retrying cannot change the data: a dead letter at once.
        stats.deadLettered++;
        this.base.log.error({ subscriber: s.name, event_id: event.id, event_type: event.type }, "subscribers: the event's data does not match the subscriber's schema; dead-lettered");
        outcomes.push({ subscriber: s, result: "mismatch" });
        continue;
      }
      const log = this.base.log.child({ subscriber: s.name, event_id: event.id });
      try {
        await s.handle({ ...event, data: data.data }, { log, get: this.get });
        stats.handled++;
        outcomes.push({ subscriber: s, result: "handled" });
      } catch (error) {
        stats.failed++;
        this.base.log.warn({ err: error, subscriber: s.name, event_id: event.id, event_type: event.type }, "subscribers: a handler failed; the event will be tried again");
        outcomes.push({ subscriber: s, result: "failed", error });
      }
    }
    return outcomes;
  }

  deadLettered(subscriber: Subscriber, event: IncomingEvent | undefined, attempts: number, where: string): void {
    this.stats.get(subscriber.name)!.deadLettered++;
    this.base.log.error({ subscriber: subscriber.name, event_id: event?.id, event_type: event?.type, attempts, dead_letters: where }, "subscribers: an event kept failing; dead-lettered");
  }
}
