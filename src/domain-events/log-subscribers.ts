/**
 * Subscribers served from PostgreSQL, the embedded default (no REDIS_URL): the relay gives each
 * published event its `position` (src/domain-events/sinks.ts) and a NOTIFY wakes the readers here.
 *
 * - One consumer group per service (EVENTS_GROUP) with a cursor, `event_cursors`
 *   (src/migrations/0004_event_log.ts). A replica reads a batch after the cursor while holding the
 *   cursor's row lock (other replicas skip it), runs the handlers, and in one transaction records
 *   the failures and moves the cursor: a replica that dies mid-batch moves nothing, and the batch
 *   is read again (at least once; finished handlers are skipped, src/domain-events/subscribers.ts).
 * - A handler that fails does not hold up the others: its event gets a row in `event_retries`,
 *   tried again after a growing, jittered backoff (by any replica that has that subscriber: in a
 *   rolling deploy, not by an older one that lacks it), and after
 *   `maxAttempts` failures it stays there as a dead letter (dead_at set) and is logged.
 * - A new group starts at the newest event, as a new Redis consumer group does.
 */
import type pg from "pg";
import { PUBLISHED_CHANNEL } from "./channel.ts";
import { NappingLoop, retryWaitMs } from "./nap.ts";
import { inTransaction, listeningSession } from "./pg-session.ts";
import { Handlers, incomingEvent, SCHEMA_MISMATCH, type IncomingEvent, type Outcome, type RunnerBase, type SubscriberStats } from "./subscribers.ts";

export interface LogRunnerOptions extends RunnerBase {
  databaseUrl: string;
  /** The first retry waits about this long, each next one twice as long (default 1 s)… */
  retryBaseMs?: number;
  /** …up to this (default 60 s). */
  retryMaxMs?: number;
  /** How often to look without a notification (default 1 s). */
  pollMs?: number;
  batchSize?: number;
}

interface EventRow {
  position: string;
  envelope: unknown;
}

interface RetryRow {
  subscriber: string;
  event_id: string;
  envelope: unknown;
  attempts: number;
}

export class LogSubscriberRunner extends NappingLoop {
  private readonly handlers: Handlers;
  private client: pg.Client | undefined;

  constructor(private readonly options: LogRunnerOptions) {
    super();
    this.handlers = new Handlers(options);
  }

  get stats(): Map<string, SubscriberStats> {
    return this.handlers.stats;
  }

  protected async loop(): Promise<void> {
    const { log } = this.options;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.client) await this.connect();
        const read = await this.readBatch();
        await this.retryDue();
        failures = 0;
        if (read < this.batchSize) await this.nap.sleep(await this.untilNextLook());
      } catch (error) {
        if (this.stopped) break;
        failures++;
        const waitMs = retryWaitMs(failures);
        if (failures === 1 || failures % 20 === 0) log.warn({ err: error, failures, retry_in_ms: waitMs }, "subscribers: reading the events failed; retrying");
        await this.disconnect();
        await this.nap.sleep(waitMs);
      }
    }
    await this.disconnect();
  }

  private get batchSize(): number {
    return this.options.batchSize ?? 100;
  }

  private async connect(): Promise<void> {
    const client = await listeningSession(this.options.databaseUrl, PUBLISHED_CHANNEL, () => this.nap.wake());
    await client.query("insert into event_cursors (group_name, position) values ($1, coalesce((select max(position) from events), 0)) on conflict do nothing", [this.options.group]);
    this.client = client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** The events after the group's cursor: handled, failures recorded, cursor moved. Returns how many were read. */
  private async readBatch(): Promise<number> {
    const client = this.client!;
    const { group } = this.options;
    return inTransaction(client, async () => {
      const cursor = await client.query<{ position: string }>("select position from event_cursors where group_name = $1 for update skip locked", [group]);
      if (cursor.rows.length === 0) return 0; // another replica is reading
      const { rows } = await client.query<EventRow>("select position, envelope from events where position > $1 order by position limit $2", [cursor.rows[0]!.position, this.batchSize]);
      if (rows.length === 0) return 0;
      const events = rows.map((r) => incomingEvent(r.envelope));
      const finished = await this.handlers.finished(events.flatMap((e) => (e ? [e.id] : [])));
      const done: Array<{ subscriber: string; event_id: string }> = [];
      for (const event of events) {
        if (!event) continue;
        for (const outcome of await this.handlers.run(event, finished)) {
          if (outcome.result === "handled") done.push({ subscriber: outcome.subscriber.name, event_id: event.id });
          else await this.failed(event, 0, outcome);
        }
      }
      await this.handlers.record(done);
      await client.query("update event_cursors set position = $2, updated_at = now() where group_name = $1", [group, rows[rows.length - 1]!.position]);
      return rows.length;
    });
  }

  /** Failed events whose backoff has passed: tried again; any replica may take any of them. */
  private async retryDue(): Promise<void> {
    const client = this.client!;
    const { group } = this.options;
    await inTransaction(client, async () => {
      const { rows } = await client.query<RetryRow>(
        `select subscriber, event_id, envelope, attempts from event_retries
          where group_name = $1 and subscriber = any($3) and dead_at is null and next_at <= now() order by next_at limit $2 for update skip locked`,
        [group, this.batchSize, this.handlers.names],
      );
      const finished = await this.handlers.finished(rows.map((r) => r.event_id));
      const forget = (subscriber: string, eventId: string) => client.query("delete from event_retries where group_name = $1 and subscriber = $2 and event_id = $3", [group, subscriber, eventId]);
      for (const row of rows) {
        const s = this.handlers.byName(row.subscriber);
        const event = incomingEvent(row.envelope);
        if (!s || !event) {
          await forget(row.subscriber, row.event_id); // an envelope that is not an event: nothing can handle it
          continue;
        }
        const [outcome] = await this.handlers.run(event, finished, [s]);
        if (outcome !== undefined && outcome.result !== "handled") {
          await this.failed(event, row.attempts, outcome);
          continue;
        }
        if (outcome) await this.handlers.record([{ subscriber: s.name, event_id: event.id }]);
        await forget(s.name, event.id);
      }
    });
  }

  /** Records a failed delivery (attempt `before + 1`): a retry after a backoff, or a dead letter (at once for a schema mismatch). */
  private async failed(event: IncomingEvent, before: number, outcome: Exclude<Outcome, { result: "handled" }>): Promise<void> {
    const attempts = before + 1;
    const mismatch = outcome.result === "mismatch";
    const dead = mismatch || attempts >= this.handlers.maxAttempts;
    const problem = mismatch ? SCHEMA_MISMATCH : describe(outcome.error);
    const base = this.options.retryBaseMs ?? 1000;
    const backoffMs = Math.min(this.options.retryMaxMs ?? 60_000, base * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
    await this.client!.query(
      `insert into event_retries (group_name, subscriber, event_id, envelope, attempts, next_at, problem, dead_at)
       values ($1, $2, $3, $4, $5, clock_timestamp() + make_interval(secs => $6), $7, case when $8 then clock_timestamp() end)
       on conflict (group_name, subscriber, event_id) do update
         set attempts = excluded.attempts, next_at = excluded.next_at, problem = excluded.problem, dead_at = excluded.dead_at`,
      [this.options.group, outcome.subscriber.name, event.id, JSON.stringify(event.envelope), attempts, backoffMs / 1000, problem.slice(0, 500), dead],
    );
    // A schema mismatch is counted and logged as it is found (src/domain-events/subscribers.ts).
    if (dead && !mismatch) this.handlers.deadLettered(outcome.subscriber, event, attempts, "event_retries");
  }

  /** Until the next poll, or sooner when a retry falls due. */
  private async untilNextLook(): Promise<number> {
    const pollMs = this.options.pollMs ?? 1000;
    const { rows } = await this.client!.query<{ ms: number | null }>(
      "select (extract(epoch from min(next_at) - now()) * 1000)::float8 as ms from event_retries where group_name = $1 and subscriber = any($2) and dead_at is null",
      [this.options.group, this.handlers.names],
    );
    const dueMs = rows[0]?.ms;
    // At least 10 ms: a due retry another replica holds must not make this one spin.
    return dueMs === null || dueMs === undefined ? pollMs : Math.max(10, Math.min(pollMs, dueMs));
  }

}

/** What is kept of a failure: its message, never a value a handler put elsewhere on it. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : "a non-Error was thrown";
}
