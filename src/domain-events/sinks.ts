/**
 * Where the relay (src/domain-events/relay.ts) publishes the outbox: a Redis stream when REDIS_URL is
 * set, else PostgreSQL itself (the embedded default). A sink sends one batch, in outbox order,
 * inside the relay's transaction; throwing leaves every row of the batch in the outbox.
 */
import type pg from "pg";
import type { Redis } from "ioredis";
import { PUBLISHED_CHANNEL } from "./channel.ts";

export interface OutboxRow {
  id: string;
  event_id: string;
  event_type: string;
  envelope: unknown;
}

export interface EventSink {
  /** For logs: where the events go. */
  readonly target: string;
  send(rows: readonly OutboxRow[], client: pg.Client): Promise<void>;
}

/** XADD to `stream`, capped near `maxLen`; each entry holds the envelope as JSON in `event`, plus `type` and `id`. */
export function redisSink(redis: Redis, stream: string, maxLen: number): EventSink {
  return {
    target: `redis stream ${stream}`,
    async send(rows) {
      const pipeline = redis.pipeline();
      for (const row of rows) pipeline.xadd(stream, "MAXLEN", "~", maxLen, "*", "event", JSON.stringify(row.envelope), "type", row.event_type, "id", row.event_id);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed || results.length !== rows.length) throw failed?.[0] ?? new Error("redis answered fewer XADDs than it was sent");
    },
  };
}

/**
 * The events stay in the outbox table and get their published order (`position`,
 * src/migrations/0004_event_log.ts); subscribers read them by it (src/domain-events/log-subscribers.ts) and
 * are woken by a NOTIFY that PostgreSQL delivers when the relay's transaction commits.
 */
export function postgresSink(): EventSink {
  return {
    target: "postgresql (events.position)",
    async send(rows, client) {
      // Positions come from a sequence; handed out in outbox order within the batch.
      const { rows: positions } = await client.query<{ p: string }>("select nextval('events_position_seq')::text as p from generate_series(1, $1)", [rows.length]);
      const sorted = positions.map((r) => BigInt(r.p)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      await client.query("update events set position = v.position from unnest($1::bigint[], $2::bigint[]) as v(id, position) where events.id = v.id", [
        rows.map((r) => r.id),
        sorted.map(String),
      ]);
      await client.query("select pg_notify($1, '')", [PUBLISHED_CHANNEL]);
    },
  };
}
