/**
 * The events relay: from the `events` outbox in PostgreSQL (written in the transaction of each
 * change, src/domain-events/record.ts) to a sink (src/domain-events/sinks.ts): one Redis stream, or without Redis
 * PostgreSQL itself, at least once, in commit order.
 *
 * - One relay at a time: every replica runs one, and the one holding a PostgreSQL advisory lock
 *   relays while the others wait for it. The lock lives with the leader's connection, so a
 *   leader that dies hands over at once. One relay keeps the order per subject (all of it, in
 *   fact) without coordination.
 * - A batch: read the oldest unpublished rows, send them to the sink (XADD in one pipeline), then
 *   mark them published and commit. A relay that dies between the XADD and the commit leaves them
 *   unpublished, and the next relay sends them again: consumers de-duplicate by event_id.
 * - Redis down: the batch fails, the rows stay, the relay retries with a growing backoff.
 * - Woken by LISTEN/NOTIFY (src/migrations/0002_events_notify.ts) and by a poll as a fallback.
 * - Published rows are deleted after `retentionMs`, and never before every consumer group reading
 *   them from PostgreSQL has (event_cursors), unless that group has not read for `retentionMs`
 *   either (a service gone for good must not keep every event); the Redis stream is capped near
 *   EVENTS_MAXLEN.
 */
import type pg from "pg";
import type { Logger } from "../ops/logger.ts";
import { EVENTS_CHANNEL } from "./channel.ts";
import { NappingLoop, retryWaitMs } from "./nap.ts";
import { inTransaction, listeningSession } from "./pg-session.ts";
import type { EventSink, OutboxRow } from "./sinks.ts";

/**
 * The advisory lock key of the relay: a constant every replica shares, and not the migrations'
 * (src/db/migrator.ts), which a leading relay would otherwise hold for good.
 */
const RELAY_LOCK = 0x7665_7261_7265n; // "verare"

export interface RelayOptions {
  databaseUrl: string;
  sink: EventSink;
  retentionMs: number;
  log: Logger;
  batchSize?: number;
  /** How often to look without a notification, and to try for the lock. */
  pollMs?: number;
  /** How often published rows past the retention are deleted (default 60 s). */
  purgeEveryMs?: number;
  /** Without progress this long the relay counts as stuck (default RELAY_STUCK_MS). */
  stuckMs?: number;
}

export interface RelayStats {
  leader: boolean;
  published: number;
  failures: number;
  /** When the last batch went out (ms since epoch), or undefined. */
  lastPublishedAt: number | undefined;
  /** When the relay last found nothing to do or published (ms since epoch): a stuck relay stops updating it. */
  lastProgressAt: number;
}

/** Without progress this long, a relay counts as stuck (/healthz says so). */
export const RELAY_STUCK_MS = 60_000;

export type RelayState = "leading" | "standby" | "stuck";

export class EventRelay extends NappingLoop {
  readonly stats: RelayStats = { leader: false, published: 0, failures: 0, lastPublishedAt: undefined, lastProgressAt: Date.now() };
  private client: pg.Client | undefined;
  private lastPurge = 0;

  constructor(private readonly options: RelayOptions) {
    super();
  }

  /** leading, standby (another replica leads), or stuck (no progress for RELAY_STUCK_MS: Redis or the database failing). */
  get state(): RelayState {
    if (Date.now() - this.stats.lastProgressAt > (this.options.stuckMs ?? RELAY_STUCK_MS)) return "stuck";
    return this.stats.leader ? "leading" : "standby";
  }

  protected async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.client) await this.connect();
        if (!this.stats.leader) {
          this.stats.leader = await this.tryLead();
          if (!this.stats.leader) {
            this.stats.lastProgressAt = Date.now(); // waiting is progress for a follower
            await this.nap.sleep(this.options.pollMs ?? 1000);
            continue;
          }
          this.options.log.info({ target: this.options.sink.target }, "events relay: leading");
        }
        const sent = await this.relayBatch();
        failures = 0;
        this.stats.lastProgressAt = Date.now();
        await this.purge();
        if (sent < (this.options.batchSize ?? 500)) await this.nap.sleep(this.options.pollMs ?? 1000);
      } catch (error) {
        if (this.stopped) break;
        failures++;
        this.stats.failures++;
        const waitMs = retryWaitMs(failures);
        if (failures === 1 || failures % 20 === 0) this.options.log.warn({ err: error, failures, retry_in_ms: waitMs }, "events relay: a batch failed; the events wait in the outbox");
        if (this.client && !(await this.alive())) await this.disconnect();
        await this.nap.sleep(waitMs);
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<void> {
    this.client = await listeningSession(this.options.databaseUrl, EVENTS_CHANNEL, () => this.nap.wake());
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.stats.leader) this.options.log.info("events relay: no longer leading");
    this.stats.leader = false;
    await client?.end().catch(() => undefined);
  }

  private async alive(): Promise<boolean> {
    try {
      await this.client!.query("select 1");
      return true;
    } catch {
      return false;
    }
  }

  private async tryLead(): Promise<boolean> {
    const { rows } = await this.client!.query<{ locked: boolean }>("select pg_try_advisory_lock($1::bigint) as locked", [RELAY_LOCK.toString()]);
    return rows[0]!.locked;
  }

  /** One batch: returns how many events went out. */
  private async relayBatch(): Promise<number> {
    const client = this.client!;
    const sent = await inTransaction(client, async () => {
      const { rows } = await client.query<OutboxRow>(
        "select id, event_id, event_type, envelope from events where published_at is null order by id limit $1 for update",
        [this.options.batchSize ?? 500],
      );
      if (rows.length > 0) {
        await this.options.sink.send(rows, client);
        await client.query("update events set published_at = now() where id = any($1::bigint[])", [rows.map((r) => r.id)]);
      }
      return rows.length;
    });
    if (sent > 0) {
      this.stats.published += sent;
      this.stats.lastPublishedAt = Date.now();
    }
    return sent;
  }

  /** Deletes published rows past the retention, now and then. */
  private async purge(): Promise<void> {
    if (Date.now() - this.lastPurge < (this.options.purgeEveryMs ?? 60_000)) return;
    this.lastPurge = Date.now();
    await this.client!.query(
      `delete from events where published_at < now() - make_interval(secs => $1)
         and not exists (select 1 from event_cursors c where c.position < events.position and c.updated_at > now() - make_interval(secs => $1))`,
      [this.options.retentionMs / 1000],
    );
  }

}
