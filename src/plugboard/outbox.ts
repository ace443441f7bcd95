/**
 * Keeps answers safe across disconnects. The plugboard matches an answer by ref and ignores a
 * repeated one, and it gives up on a request after 30 s; so:
 *  - an answer finished while we are not joined is held and sent after the rejoin, if its
 *    request is younger than 30 s (older ones are dropped and counted);
 *  - answers sent shortly before a connection was lost may have died with it: they are sent
 *    again after the rejoin;
 *  - a request whose ref is running or was just answered is never run a second time.
 * Every map here is bounded by time and by size, whatever the traffic.
 */
import { PLUGBOARD_REQUEST_TIMEOUT_MS } from "./wire.ts";
import type { AnswerPayload } from "../actions/responses.ts";

/** Answers sent this long before the last frame received on a lost connection are resent. */
export const RESEND_WINDOW_MS = 2_000;
/** At most this many sent answers are remembered for resending and duplicate detection. */
export const RECENT_LIMIT = 10_000;

interface Entry {
  payload: AnswerPayload;
  receivedAt: number;
  sentAt: number;
}

export interface OutboxStats {
  held: number;
  resent: number;
  expired: number;
  duplicates: number;
}

export interface OutboxTransport {
  /** True when a frame sent now goes out on a joined channel. */
  canSend(): boolean;
  send(ref: string, payload: AnswerPayload): void;
}

export class Outbox {
  private readonly running = new Set<string>();
  private readonly held = new Map<string, Entry>();
  /** Sent answers in send order (Map keeps insertion order), for resending and dedup. */
  private readonly recent = new Map<string, Entry>();
  readonly stats: OutboxStats = { held: 0, resent: 0, expired: 0, duplicates: 0 };

  constructor(
    private readonly transport: OutboxTransport,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Called when a request arrives: true when it should run. A duplicate of a running request
   * is ignored; a duplicate of an answered one gets the same answer again.
   */
  begin(ref: string): boolean {
    if (this.running.has(ref) || this.held.has(ref)) {
      this.stats.duplicates++;
      return false;
    }
    const answered = this.recent.get(ref);
    if (answered) {
      this.stats.duplicates++;
      if (this.transport.canSend()) this.transport.send(ref, answered.payload);
      return false;
    }
    this.running.add(ref);
    return true;
  }

  /** Sends an answer now, or holds it until the channel is joined again. */
  deliver(ref: string, payload: AnswerPayload, receivedAt: number): void {
    this.running.delete(ref);
    const entry: Entry = { payload, receivedAt, sentAt: 0 };
    if (this.transport.canSend()) this.sendEntry(ref, entry);
    else this.held.set(ref, entry);
  }

  get heldCount(): number {
    return this.held.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /**
   * After a rejoin: resend what may have died with the old connection (sent after
   * `lastHeardAt - RESEND_WINDOW_MS`, the last moment we know the connection was alive),
   * then send what was held. Anything older than the plugboard's timeout is dropped.
   */
  flushAfterRejoin(lastHeardAt: number | undefined): void {
    const now = this.now();
    if (lastHeardAt !== undefined) {
      const since = lastHeardAt - RESEND_WINDOW_MS;
      const again = [...this.recent].filter(([, e]) => e.sentAt >= since && now - e.receivedAt < PLUGBOARD_REQUEST_TIMEOUT_MS);
      for (const [ref, entry] of again) {
        if (!this.transport.canSend()) return;
        this.stats.resent++;
        this.sendEntry(ref, entry);
      }
    }
    for (const [ref, entry] of this.held) {
      if (!this.transport.canSend()) return;
      this.held.delete(ref);
      if (now - entry.receivedAt >= PLUGBOARD_REQUEST_TIMEOUT_MS) {
        this.stats.expired++;
        continue;
      }
      this.stats.held++;
      this.sendEntry(ref, entry);
    }
  }

  private sendEntry(ref: string, entry: Entry): void {
    entry.sentAt = this.now();
    this.transport.send(ref, entry.payload);
    this.recent.delete(ref); // re-insert at the end: the map stays in send order
    this.recent.set(ref, entry);
    this.prune(entry.sentAt);
  }

  /** Forgets answers too old to matter: the map is in send order, so stop at the first young one. */
  private prune(now: number): void {
    for (const [ref, entry] of this.recent) {
      const tooMany = this.recent.size > RECENT_LIMIT;
      if (!tooMany && now - entry.receivedAt < PLUGBOARD_REQUEST_TIMEOUT_MS) break;
      this.recent.delete(ref);
    }
  }
}
