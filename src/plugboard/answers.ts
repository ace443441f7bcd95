/**
 * Keeps answers safe across disconnects. The plugboard matches an answer by ref and ignores a
 * repeated one, and it gives up on a request after 30 s; so:
 *  - an answer finished while we are not joined is held and sent after the rejoin, if its
 *    request is younger than 30 s (older ones are dropped and counted);
 *  - answers sent shortly before a connection was lost may have died with it: they are sent
 *    again after the rejoin;
 *  - a request whose ref is running or was just answered is never run a second time;
 *  - an answer whose frame made the plugboard close the socket (1009, message too big) is
 *    never sent again: from then on answers of that size or more go out as a small 500;
 *  - an answer ready sooner than `holdMs` after its request arrived waits until then (one shared
 *    timer for all of them): the Vera Plugboard pushes a request before it registers its
 *    waiting caller, and drops an answer that comes back before that (docs/protocol.md). Never
 *    a second copy instead: a copy arriving while the caller is still registered goes to the
 *    next call on the same kept-alive HTTP connection.
 * Everything kept here is bounded by time and by size, whatever the traffic.
 */
import { PLUGBOARD_REQUEST_TIMEOUT_MS } from "./wire.ts";
import { SentAnswers } from "./sent-answers.ts";
import { answerText, answerTooLarge, DEFAULT_MESSAGE_FORMAT, exceedsBytes, toAnswer, type AnswerPayload, type MessageFormat } from "../actions/responses.ts";

/** Answers sent this long before the last frame received on a lost connection are resent. */
export const RESEND_WINDOW_MS = 2_000;
/**
 * A resent copy leaves no sooner than this after its original. If the original did arrive, its
 * caller was answered and forgotten by then: the Vera Plugboard hands a waiting caller whatever
 * answer comes next on its connection and forgets it only a little after, so a copy in that
 * moment would go to another call (docs/protocol.md).
 */
export const RESEND_MIN_AGE_MS = 1_000;
/** At most this many sent answers are remembered for resending and duplicate detection… */
export const RECENT_LIMIT = 10_000;
/** …and at most this many bytes of their text (src/plugboard/sent-answers.ts). */
export const RECENT_BYTES = 4 * 1024 * 1024;

export interface AnswerStats {
  held: number;
  resent: number;
  expired: number;
  duplicates: number;
  /** Answers replaced by a small 500 because the plugboard refused frames of their size. */
  oversized: number;
}

export interface AnswerTransport {
  /** True when a frame sent now goes out on a joined channel. */
  canSend(): boolean;
  /** Sends an answer's wire text (src/actions/responses.ts answerText). */
  send(ref: string, text: string): void;
  /** Told when an answer goes out as a 500 because frames of its size were refused. */
  replaced?(ref: string, bytes: number, limit: number): void;
}

/** An answer finished while not joined, waiting for the rejoin; or one waiting for its moment (`due`). */
interface Held {
  ref: string;
  /** The answer as it goes on the wire: kept encoded, so it is encoded once. */
  text: string;
  receivedAt: number;
  /** For an early answer: when it may leave (ms since epoch). */
  due?: number;
  /** A resent copy: counted, and kept out of `pending` (its request was answered once already). */
  resend?: boolean;
}

/** The mark of a running request in `pending`. */
const RUNNING = 0;

export interface AnswerOptions {
  /** How answers are encoded (MESSAGE_FORMAT): their size in that form is what the plugboard sees. */
  format?: MessageFormat;
  /** An answer is sent no sooner than this many ms after its request arrived (ANSWER_HOLD_MS; 0: at once). */
  holdMs?: number;
}

export class Answers {
  /** The refs of requests running (RUNNING) and of answers held (the answer): the few not answered yet. */
  private readonly pending = new Map<string, Held | typeof RUNNING>();
  private running = 0;
  /** Answers held while not joined, in the order they were finished. */
  private held: Held[] = [];
  /** Answers that may not leave yet: finished sooner than holdMs after their request arrived, or resent copies too close to their original. */
  private early: Held[] = [];
  /** How many of `early` are answers (not resent copies). */
  private earlyAnswers = 0;
  /** The one timer that sends `early` answers, and when it fires. */
  private earlyTimer: NodeJS.Timeout | undefined;
  private earlyTimerAt = Number.POSITIVE_INFINITY;
  private holdMs: number;
  private readonly format: MessageFormat;
  /** The answers sent lately. */
  private readonly sent = new SentAnswers(RECENT_LIMIT, RECENT_BYTES, PLUGBOARD_REQUEST_TIMEOUT_MS);
  readonly stats: AnswerStats = { held: 0, resent: 0, expired: 0, duplicates: 0, oversized: 0 };
  /** The smallest answer size the plugboard is known to have refused (1009); Infinity until then. */
  private refusedBytes = Number.POSITIVE_INFINITY;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly transport: AnswerTransport,
    private readonly now: () => number = Date.now,
    options: AnswerOptions = {},
  ) {
    this.format = options.format ?? DEFAULT_MESSAGE_FORMAT;
    this.holdMs = options.holdMs ?? 0;
  }

  /** Stops holding fast answers back and sends those waiting now, or holds them for the rejoin (a forced stop). Resent copies keep waiting. */
  sendEarlyAnswersNow(): void {
    this.holdMs = 0;
    for (const entry of this.early) if (!entry.resend) entry.due = 0;
    this.sendDueEarly(this.now());
  }

  /**
   * Called when a request arrives: true when it should run. A duplicate of a running or held
   * request is ignored; a duplicate of an answered one gets the same answer again (while its
   * text is still kept).
   */
  begin(ref: string): boolean {
    if (this.pending.has(ref)) {
      this.stats.duplicates++;
      return false;
    }
    if (this.sent.has(ref)) {
      this.stats.duplicates++;
      const text = this.sent.text(ref);
      if (text !== undefined && this.transport.canSend()) this.transport.send(ref, text);
      return false;
    }
    this.pending.set(ref, RUNNING);
    this.running++;
    return true;
  }

  /**
   * Sends an answer now, or holds it until the channel is joined again. `text` is the payload
   * encoded in this answers's format already (the dispatcher's), when the caller has it.
   */
  deliver(ref: string, payload: AnswerPayload, receivedAt: number, text?: string): void {
    if (this.pending.get(ref) === RUNNING) this.running--;
    const answer = text ?? answerText(payload, this.format);
    const due = receivedAt + this.holdMs;
    if (this.transport.canSend() && this.holdMs > 0 && this.now() < due) {
      const early: Held = { ref, text: answer, receivedAt, due };
      this.pending.set(ref, early);
      this.early.push(early);
      this.earlyAnswers++;
      this.armEarlyTimer(due);
    } else if (this.transport.canSend()) {
      this.pending.delete(ref);
      this.send(ref, answer, receivedAt);
    } else {
      const held: Held = { ref, text: answer, receivedAt };
      this.pending.set(ref, held);
      this.held.push(held);
    }
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.running === 0 && this.earlyCount === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Takes the held answers out (a drain hands them to another replica, src/plugboard/handover.ts). */
  takeHeld(): Array<{ ref: string; text: string }> {
    const held = this.held;
    this.held = [];
    for (const entry of held) this.pending.delete(entry.ref);
    return held.map(({ ref, text }) => ({ ref, text }));
  }

  /** Sends an answer another replica handed over; held for the rejoin if the channel is gone meanwhile. */
  sendHandedOver(ref: string, text: string): void {
    const now = this.now();
    if (this.transport.canSend()) this.send(ref, text, now);
    else this.held.push({ ref, text, receivedAt: now });
  }

  /** Answers waiting for their hold to pass (resent copies not counted: their requests were answered). */
  get earlyCount(): number {
    return this.earlyAnswers;
  }

  /** Sends the early answers due by `until` (all of them: Infinity), or holds them when the channel is gone meanwhile. */
  private sendDueEarly(until: number): void {
    if (this.early.length === 0) return;
    const waiting: Held[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.early) {
      const due = entry.due ?? 0;
      if (due > until) {
        waiting.push(entry);
        next = Math.min(next, due);
        continue;
      }
      if (!entry.resend) this.earlyAnswers--;
      if (this.transport.canSend()) {
        if (!entry.resend) this.pending.delete(entry.ref);
        this.send(entry.ref, entry.text, entry.receivedAt);
      } else if (!entry.resend) {
        this.held.push(entry);
      }
      // A resent copy whose channel is gone again waits for the next rejoin's resend.
    }
    this.early = waiting;
    if (waiting.length > 0) this.armEarlyTimer(next);
    this.wakeIfIdle();
  }

  /** One timer for every early answer: armed for the soonest one due. */
  private armEarlyTimer(due: number): void {
    if (this.earlyTimer !== undefined && this.earlyTimerAt <= due) return;
    clearTimeout(this.earlyTimer);
    this.earlyTimerAt = due;
    this.earlyTimer = setTimeout(() => {
      this.earlyTimer = undefined;
      this.earlyTimerAt = Number.POSITIVE_INFINITY;
      this.sendDueEarly(this.now());
    }, Math.max(0, due - this.now()));
  }

  /**
   * Resolves once every request that arrived has its answer delivered: sent, or held for a
   * rejoin; none still running or waiting out its hold.
   */
  whenNothingRunning(): Promise<void> {
    if (this.running === 0 && this.earlyCount === 0) return Promise.resolve();
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
      for (const answer of this.sent.since(lastHeardAt - RESEND_WINDOW_MS, now - PLUGBOARD_REQUEST_TIMEOUT_MS)) {
        if (!this.transport.canSend()) return;
        this.stats.resent++;
        const due = answer.sentAt + RESEND_MIN_AGE_MS;
        if (now >= due) this.send(answer.ref, answer.text, answer.receivedAt);
        else {
          this.early.push({ ref: answer.ref, text: answer.text, receivedAt: answer.receivedAt, due, resend: true });
          this.armEarlyTimer(due);
        }
      }
    }
    const held = this.held;
    let next = 0;
    for (; next < held.length && this.transport.canSend(); next++) {
      const entry = held[next]!;
      this.pending.delete(entry.ref);
      if (now - entry.receivedAt >= PLUGBOARD_REQUEST_TIMEOUT_MS) {
        this.stats.expired++;
        continue;
      }
      this.stats.held++;
      this.send(entry.ref, entry.text, entry.receivedAt);
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
    const largest = this.sent.largestSince((lastHeardAt ?? this.now()) - RESEND_WINDOW_MS);
    if (largest === 0) return undefined;
    // A second refusal below the first threshold means the limit is lower still: halve, so a run
    // of answers each just under the last threshold cannot close the socket again and again.
    this.refusedBytes = this.refusedBytes === Number.POSITIVE_INFINITY ? largest : Math.min(largest, Math.floor(this.refusedBytes / 2));
    return largest;
  }

  private send(ref: string, text: string, receivedAt: number): void {
    if (this.refusedBytes !== Number.POSITIVE_INFINITY && exceedsBytes(text, this.refusedBytes - 1)) {
      this.stats.oversized++;
      this.transport.replaced?.(ref, Buffer.byteLength(text), this.refusedBytes);
      text = answerText(toAnswer(answerTooLarge()), this.format);
    }
    const sentAt = this.now();
    this.transport.send(ref, text);
    this.sent.record(ref, text, receivedAt, sentAt);
  }
}
