/**
 * Domain events, written to the `events` outbox in the transaction of the change they describe
 * (account/migrations/0005_roles.ts): the change and its event commit together, or neither does, so no
 * event is lost between a write and its publication. The envelope is the one the systems this
 * service joins already read: event_id, event_type, timestamp, source, priority, subject, actor,
 * resource, data, metadata. It never holds a password, a digest, a token or a JWT.
 */
import { randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.ts";

/** The `source` of every envelope: this service. */
export const EVENT_SOURCE = "vera-service";

export interface DomainEvent {
  type: string;
  /** What the event is about, e.g. `user:42`. */
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

export function envelopeOf(event: DomainEvent, at = new Date()): Envelope {
  return {
    event_id: randomUUID(),
    event_type: event.type,
    timestamp: at.toISOString(),
    source: EVENT_SOURCE,
    priority: event.priority ?? "normal",
    subject: event.subject,
    actor: event.actor ?? null,
    resource: event.resource ?? null,
    data: event.data,
    metadata: { schema_version: 1 },
  };
}

/** Writes the event in `trx`: call it inside the transaction of the change. */
export async function recordEvent(trx: Transaction<Database> | Kysely<Database>, event: DomainEvent): Promise<Envelope> {
  const envelope = envelopeOf(event);
  await trx
    .insertInto("events")
    .values({ event_id: envelope.event_id, event_type: envelope.event_type, subject: envelope.subject, envelope: JSON.stringify(envelope) })
    .execute();
  return envelope;
}
