/**
 * Keeps answers safe across disconnects. The plugboard matches an answer by ref and ignores a
 * repeated one, and it gives up on a request after 30 s; so:
 *  - an answer finished while we are not joined is held and sent after the rejoin, if its
 *    request is younger than 30 s (older ones are dropped and counted);
 *  - answers sent shortly before a connection was lost may have died with it: they are sent
 *    again after the rejoin;
 *  - a request whose ref is running or was just answered is never run a second time;
 *  - an answer whose frame made the plugboard close the socket (1009, message too big) is
 *    never sent again: from then on answers of that size or more go out as a small 500.
 * Every map here is bounded by time and by size, whatever the traffic.
 */
import { PLUGBOARD_REQUEST_TIMEOUT_MS } from "./wire.ts";
import { answerText, answerTooLarge, exceedsBytes, toAnswer, type AnswerPayload, type MessageFormat } from "../actions/responses.ts";

/** Answers sent this long before the last frame received on a lost connection are resent. */
export const RESEND_WINDOW_MS = 2_000;
/** At most this many sent answers are remembered for resending and duplicate detection. */
export const RECENT_LIMIT = 10_000;

interface Entry {
  ref: string;
  /** The answer as it goes on the wire: kept encoded, so an entry costs its bytes once. */
  text: string;
  receivedAt: number;
  sentAt: number;
}

export interface OutboxStats {
  held: number;
  resent: number;
  expired: number;
  duplicates: number;
  /** Answers replaced by a small 500 because the plugboard refused frames of their size. */
  oversized: number;
}

export interface OutboxTransport {
  /** True when a frame sent now goes out on a joined channel. */
  canSend(): boolean;
  /** Sends an answer's wire text (src/actions/responses.ts answerText). */
  send(ref: string, text: string): void;
  /** Told when an answer goes out as a 500 because frames of its size were refused. */
  replaced?(ref: string, bytes: number, limit: number): void;
}

export class Outbox {
  private readonly running = new Set<string>();
  private readonly held = new Map<string, Entry>();
  /** Sent answers by ref, for resending and duplicate detection. */
  private readonly recent = new Map<string, Entry>();
  /**
   * The same answers in send order, oldest at `head`; an answer sent again appears again at the
   * end, and its earlier record (no longer the one in `recent`) is skipped. A plain array with a
   * moving head, not the Map's own order: deleting a Map's oldest entries leaves holes that every
   * later walk from its start steps over until V8 rehashes it, which cost a third of a cheap
   * request's CPU (bench/RESULTS.md, "The dispatch fast path").
   */
  private order: Entry[] = [];
  private head = 0;
  readonly stats: OutboxStats = { held: 0, resent: 0, expired: 0, duplicates: 0, oversized: 0 };
  /** The smallest answer size the plugboard is known to have refused (1009); Infinity until then. */
  private refusedBytes = Number.POSITIVE_INFINITY;

  constructor(
    private readonly transport: OutboxTransport,
    private readonly now: () => number = Date.now,
    /** How answers are encoded (MESSAGE_FORMAT): their size in that form is what the plugboard sees. */
    private readonly format: MessageFormat = "text",
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
      if (this.transport.canSend()) this.transport.send(ref, answered.text);
      return false;
    }
    this.running.add(ref);
    return true;
  }

  /** Sends an answer now, or holds it until the channel is joined again. */
  deliver(ref: string, payload: AnswerPayload, receivedAt: number): void {
    this.running.delete(ref);
    const entry: Entry = { ref, text: answerText(payload, this.format), receivedAt, sentAt: 0 };
    if (this.transport.canSend()) this.sendEntry(ref, entry);
    else this.held.set(ref, entry);
    if (this.running.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private idleWaiters: Array<() => void> = [];

  /** Resolves once every request that arrived has its answer delivered (sent or held). */
  whenNothingRunning(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
      const again = this.order.slice(this.head).filter((e) => this.recent.get(e.ref) === e && e.sentAt >= since && now - e.receivedAt < PLUGBOARD_REQUEST_TIMEOUT_MS);
      for (const entry of again) {
        if (!this.transport.canSend()) return;
        this.stats.resent++;
        this.sendEntry(entry.ref, entry);
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

  /**
   * The plugboard closed the socket because a frame of ours was too big (1009). The culprit is
   * among the answers sent just before the loss: the largest of them. Answers that size or larger
   * are never sent as they are again; returns that size, or undefined when none was sent.
   */
  frameRefused(lastHeardAt: number | undefined): number | undefined {
    const since = (lastHeardAt ?? this.now()) - RESEND_WINDOW_MS;
    let largest = 0;
    for (const entry of this.recent.values()) {
      if (entry.sentAt >= since) largest = Math.max(largest, Buffer.byteLength(entry.text));
    }
    if (largest === 0) return undefined;
    // A second refusal below the first threshold means the limit is lower still: halve, so a run
    // of answers each just under the last threshold cannot close the socket again and again.
    this.refusedBytes = this.refusedBytes === Number.POSITIVE_INFINITY ? largest : Math.min(largest, Math.floor(this.refusedBytes / 2));
    return largest;
  }

  private sendEntry(ref: string, entry: Entry): void {
    if (this.refusedBytes !== Number.POSITIVE_INFINITY) {
      if (exceedsBytes(entry.text, this.refusedBytes - 1)) {
        this.stats.oversized++;
        this.transport.replaced?.(ref, Buffer.byteLength(entry.text), this.refusedBytes);
        entry.text = answerText(toAnswer(answerTooLarge()), this.format);
      }
    }
    // A resend gets a record of its own: the earlier one goes stale in `order`.
    const sent: Entry = entry.sentAt === 0 ? entry : { ref, text: entry.text, receivedAt: entry.receivedAt, sentAt: 0 };
    sent.sentAt = this.now();
    this.transport.send(ref, sent.text);
    this.recent.set(ref, sent);
    this.order.push(sent);
    this.prune(sent.sentAt);
  }

  /**
   * Forgets answers too old to matter, and the oldest beyond RECENT_LIMIT records: `order` is in
   * send order, so stop at the first young, current one.
   */
  private prune(now: number): void {
    const { order, recent } = this;
    while (this.head < order.length) {
      const oldest = order[this.head]!;
      const current = recent.get(oldest.ref) === oldest;
      if (current && order.length - this.head <= RECENT_LIMIT && now - oldest.receivedAt < PLUGBOARD_REQUEST_TIMEOUT_MS) break;
      if (current) recent.delete(oldest.ref);
      order[this.head++] = undefined as never;
    }
    // Drop the consumed front now and then: amortized O(1), and the array never holds more than twice its records.
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
  }
}
