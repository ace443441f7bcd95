/**
 * Domain events, written to the framework's outbox (the `events` table, src/migrations/0001_events.ts)
 * in the transaction of the change they describe: the change and its event commit together, or
 * neither does, so no event is lost between a write and its publication. The relay publishes them
 * (src/domain-events/relay.ts); subscribers, of this service or any other, read them. The
 * envelope is the one the systems these services join already read: event_id, event_type,
 * timestamp, source, priority, subject, actor, resource, data, metadata. Keep secrets out of
 * `data`: every reader of the stream sees it.
 */
import { randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";

export interface DomainEvent {
  type: string;
  /** What the event is about, e.g. `user:42` or `order:17`. */
  subject: string;
  /** Who acted, when someone other than the subject did (e.g. `user:7`, or `operator` for a command). */
  actor?: string;
  /** What was acted on besides the subject, e.g. `role:admin`. */
  resource?: string;
  data: Record<string, unknown>;
  priority?: "low" | "normal" | "high";
}

export interface Envelope {
  event_id: string;
  event_type: string;
  timestamp: string;
  source: string;
  priority: string;
  subject: string;
  actor: string | null;
  resource: string | null;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** The `source` of every envelope: the service's name (SERVICE_NAME), set when its providers start. */
let source = "vera-service";

/** Names the service the events come from (src/start-providers.ts, from the configuration). */
export function useEventSource(name: string): void {
  source = name;
}

export function envelopeOf(event: DomainEvent, at = new Date()): Envelope {
  return {
    event_id: randomUUID(),
    event_type: event.type,
    timestamp: at.toISOString(),
    source,
    priority: event.priority ?? "normal",
    subject: event.subject,
    actor: event.actor ?? null,
    resource: event.resource ?? null,
    data: event.data,
    metadata: { schema_version: 1 },
  };
}

/** Writes the event in `trx`: call it inside the transaction of the change (`db.transaction().execute(async (trx) => …)`). */
export async function recordEvent(trx: Transaction<any> | Kysely<any>, event: DomainEvent): Promise<Envelope> {
  const envelope = envelopeOf(event);
  await trx
    .insertInto("events")
    .values({ event_id: envelope.event_id, event_type: envelope.event_type, subject: envelope.subject, envelope: JSON.stringify(envelope) })
    .execute();
  return envelope;
}
