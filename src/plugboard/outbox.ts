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

/** One request's answer, from its arrival until it is forgotten. */
interface Entry {
  ref: string;
  state: "running" | "held" | "sent";
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
  /**
   * Every ref this replica knows: running, answered and held, or answered and sent (then kept for
   * resending and duplicate detection). One map, so a request costs one lookup on arrival.
   */
  private readonly entries = new Map<string, Entry>();
  private running = 0;
  /** Answers held while not joined, in the order they were finished. */
  private held: Entry[] = [];
  /**
   * The sent answers in send order, oldest at `head`; an answer sent again appears again at the
   * end, and its earlier record (no longer the one in `entries`) is skipped. A plain array with
   * a moving head, not a Map's own order: deleting a Map's oldest entries leaves holes that every
   * later walk from its start steps over until V8 rehashes it, which cost a third of a cheap
   * request's CPU (bench/RESULTS.md, "The dispatch fast path").
   */
  private sent: Entry[] = [];
  private head = 0;
  readonly stats: OutboxStats = { held: 0, resent: 0, expired: 0, duplicates: 0, oversized: 0 };
  /** The smallest answer size the plugboard is known to have refused (1009); Infinity until then. */
  private refusedBytes = Number.POSITIVE_INFINITY;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly transport: OutboxTransport,
    private readonly now: () => number = Date.now,
    /** How answers are encoded (MESSAGE_FORMAT): their size in that form is what the plugboard sees. */
    private readonly format: MessageFormat = "text",
  ) {}

  /**
   * Called when a request arrives: true when it should run. A duplicate of a running or held
   * request is ignored; a duplicate of an answered one gets the same answer again.
   */
  begin(ref: string): boolean {
    const known = this.entries.get(ref);
    if (known !== undefined) {
      this.stats.duplicates++;
      if (known.state === "sent" && this.transport.canSend()) this.transport.send(ref, known.text);
      return false;
    }
    this.entries.set(ref, { ref, state: "running", text: "", receivedAt: 0, sentAt: 0 });
    this.running++;
    return true;
  }

  /** Sends an answer now, or holds it until the channel is joined again. */
  deliver(ref: string, payload: AnswerPayload, receivedAt: number): void {
    let entry = this.entries.get(ref);
    if (entry?.state !== "running") {
      // Not begun here (a caller that skipped begin): remembered all the same.
      entry = { ref, state: "running", text: "", receivedAt: 0, sentAt: 0 };
      this.entries.set(ref, entry);
    } else {
      this.running--;
    }
    entry.text = answerText(payload, this.format);
    entry.receivedAt = receivedAt;
    if (this.transport.canSend()) {
      this.sendEntry(entry);
    } else {
      entry.state = "held";
      this.held.push(entry);
    }
    if (this.running === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once every request that arrived has its answer delivered (sent or held). */
  whenNothingRunning(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get heldCount(): number {
    return this.held.length;
  }

  get runningCount(): number {
    return this.running;
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
      const again = this.sent.slice(this.head).filter((e) => this.isCurrent(e) && e.sentAt >= since && now - e.receivedAt < PLUGBOARD_REQUEST_TIMEOUT_MS);
      for (const entry of again) {
        if (!this.transport.canSend()) return;
        this.stats.resent++;
        this.sendEntry(entry);
      }
    }
    const held = this.held;
    let next = 0;
    for (; next < held.length && this.transport.canSend(); next++) {
      const entry = held[next]!;
      if (now - entry.receivedAt >= PLUGBOARD_REQUEST_TIMEOUT_MS) {
        this.stats.expired++;
        this.entries.delete(entry.ref);
        continue;
      }
      this.stats.held++;
      this.sendEntry(entry);
    }
    // What the connection did not take (it was lost again meanwhile) stays held.
    this.held = held.slice(next);
  }

  /**
   * The plugboard closed the socket because a frame of ours was too big (1009). The culprit is
   * among the answers sent just before the loss: the largest of them. Answers that size or larger
   * are never sent as they are again; returns that size, or undefined when none was sent.
   */
  frameRefused(lastHeardAt: number | undefined): number | undefined {
    const since = (lastHeardAt ?? this.now()) - RESEND_WINDOW_MS;
    let largest = 0;
    for (let i = this.head; i < this.sent.length; i++) {
      const entry = this.sent[i]!;
      if (entry.sentAt >= since && this.isCurrent(entry)) largest = Math.max(largest, Buffer.byteLength(entry.text));
    }
    if (largest === 0) return undefined;
    // A second refusal below the first threshold means the limit is lower still: halve, so a run
    // of answers each just under the last threshold cannot close the socket again and again.
    this.refusedBytes = this.refusedBytes === Number.POSITIVE_INFINITY ? largest : Math.min(largest, Math.floor(this.refusedBytes / 2));
    return largest;
  }

  private sendEntry(entry: Entry): void {
    if (this.refusedBytes !== Number.POSITIVE_INFINITY) {
      if (exceedsBytes(entry.text, this.refusedBytes - 1)) {
        this.stats.oversized++;
        this.transport.replaced?.(entry.ref, Buffer.byteLength(entry.text), this.refusedBytes);
        entry.text = answerText(toAnswer(answerTooLarge()), this.format);
      }
    }
    // A resend gets a record of its own: the earlier one goes stale in `sent`.
    const record: Entry = entry.state === "sent" ? { ...entry } : entry;
    record.state = "sent";
    record.sentAt = this.now();
    this.transport.send(record.ref, record.text);
    if (record !== entry) this.entries.set(record.ref, record);
    this.sent.push(record);
    this.prune(record.sentAt);
  }

  /** Whether a record in `sent` is the ref's current one (not superseded by a resend, not forgotten). */
  private isCurrent(entry: Entry): boolean {
    return this.entries.get(entry.ref) === entry;
  }

  /**
   * Forgets answers too old to matter, and the oldest beyond RECENT_LIMIT records: `sent` is in
   * send order, so stop at the first young, current one.
   */
  private prune(now: number): void {
    const { sent } = this;
    while (this.head < sent.length) {
      const oldest = sent[this.head]!;
      const current = this.isCurrent(oldest);
      if (current && sent.length - this.head <= RECENT_LIMIT && now - oldest.receivedAt < PLUGBOARD_REQUEST_TIMEOUT_MS) break;
      if (current) this.entries.delete(oldest.ref);
      sent[this.head++] = undefined as never;
    }
    // Drop the consumed front now and then: amortized O(1), and the array never holds more than twice its records.
    if (this.head > 1024 && this.head * 2 > sent.length) {
      this.sent = sent.slice(this.head);
      this.head = 0;
    }
  }
}
