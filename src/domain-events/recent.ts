/**
 * The latest events, for the dev plugboard's explorer (src/devboard/explorer.ts): what the
 * outbox holds newest first, whether the relay has published each, which subscribers have
 * handled it and which hold it as a retry or a dead letter (src/migrations/0004_event_log.ts).
 */
import { sql, type Kysely } from "kysely";

export interface RecentEvent {
  envelope: Record<string, unknown>;
  publishedAt: Date | null;
  handledBy: string[];
  /** Subscribers that failed it: "name (retry 2)" or "name (dead letter)". */
  failing: string[];
}

export async function recentEvents(db: Kysely<any>, limit = 20): Promise<RecentEvent[]> {
  const { rows } = await sql<{ envelope: Record<string, unknown>; published_at: Date | null; handled_by: string[]; failing: string[] }>`
    select e.envelope, e.published_at,
      coalesce((select array_agg(h.subscriber order by h.subscriber) from handled_events h where h.event_id = e.event_id), '{}') as handled_by,
      coalesce((select array_agg(r.subscriber || case when r.dead_at is null then ' (retry ' || r.attempts || ')' else ' (dead letter)' end order by r.subscriber)
                  from event_retries r where r.event_id = e.event_id), '{}') as failing
    from events e order by e.id desc limit ${limit}`.execute(db);
  return rows.map((r) => ({ envelope: r.envelope, publishedAt: r.published_at, handledBy: r.handled_by, failing: r.failing }));
}
