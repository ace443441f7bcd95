/**
 * The answers sent lately, kept for resending after a lost connection and for answering a
 * duplicate request again (src/plugboard/answers.ts): at most `limit` of them and at most
 * `ringBytes` of their text, in send order, none older than the plugboard's 30 s.
 *
 * Their texts are copied into one byte ring outside the JavaScript heap and their times into typed
 * arrays. Kept as strings and objects, tens of thousands of answers a second each outlived a few
 * young-generation collections and were promoted, and the garbage collector then cost about as
 * much as the rest of a cheap request (bench/RESULTS.md, "The dispatch fast path"). The byte
 * bound also caps the memory large answers could take: 10,000 answers of 1 MiB were 10 GB before.
 */

/** A kept answer, for a resend. */
export interface SentAnswer {
  ref: string;
  text: string;
  receivedAt: number;
  sentAt: number;
}

export class SentAnswers {
  /**
   * ref → its current slot. A slot whose ref maps elsewhere holds a stale record (the answer was
   * sent again since); an entry whose slot now holds another ref (or none) is a forgotten answer.
   * Forgotten ones are not deleted one by one — a delete is a probe into a large map, a cache miss
   * per request — but swept together once they are as many as the kept ones.
   */
  private readonly index = new Map<string, number>();
  private readonly refs: Array<string | undefined>;
  /** Where each text starts in the ring, counted in bytes ever written; -1 when it was not kept (larger than the ring). */
  private readonly starts: Float64Array;
  private readonly lengths: Int32Array;
  private readonly sentAt: Float64Array;
  private readonly receivedAt: Float64Array;
  /** The oldest record's slot, and how many records there are (stale ones included). */
  private oldest = 0;
  private count = 0;
  private readonly ring: Buffer;
  /** Bytes written to the ring in total; the write position is this modulo its size. */
  private written = 0;

  constructor(
    private readonly limit: number,
    ringBytes: number,
    /** How long an answer is worth keeping: the plugboard gives up on a request after this long. */
    private readonly keepMs: number,
  ) {
    this.refs = new Array<string | undefined>(limit).fill(undefined);
    this.starts = new Float64Array(limit);
    this.lengths = new Int32Array(limit);
    this.sentAt = new Float64Array(limit);
    this.receivedAt = new Float64Array(limit);
    this.ring = Buffer.allocUnsafe(ringBytes);
  }

  has(ref: string): boolean {
    return this.slotOf(ref) !== undefined;
  }

  /** The text sent for `ref`, when it is still kept. */
  text(ref: string): string | undefined {
    const slot = this.slotOf(ref);
    return slot === undefined ? undefined : this.textAt(slot);
  }

  private slotOf(ref: string): number | undefined {
    const slot = this.index.get(ref);
    return slot !== undefined && this.refs[slot] === ref ? slot : undefined;
  }

  /** Records an answer just sent; forgets the oldest beyond the limits. */
  record(ref: string, text: string, receivedAt: number, sentAt: number): void {
    this.forget(sentAt);
    if (this.count === this.limit) this.dropOldest();
    const slot = (this.oldest + this.count) % this.limit;
    this.count++;
    this.refs[slot] = ref;
    this.sentAt[slot] = sentAt;
    this.receivedAt[slot] = receivedAt;
    this.store(slot, text);
    this.index.set(ref, slot);
    if (this.index.size > 2 * this.limit) this.sweep();
  }

  /** Deletes the index entries of forgotten answers (in one pass over the map: sequential, cheap). */
  private sweep(): void {
    for (const [ref, slot] of this.index) if (this.refs[slot] !== ref) this.index.delete(ref);
  }

  /** The current answers sent at or after `sentSince` for requests received after `receivedAfter`, oldest first. */
  since(sentSince: number, receivedAfter: number): SentAnswer[] {
    const found: SentAnswer[] = [];
    this.eachCurrent((slot, ref) => {
      if (this.sentAt[slot]! < sentSince || this.receivedAt[slot]! <= receivedAfter) return;
      const text = this.textAt(slot);
      if (text !== undefined) found.push({ ref, text, receivedAt: this.receivedAt[slot]!, sentAt: this.sentAt[slot]! });
    });
    return found;
  }

  /** The largest answer (UTF-8 bytes) of those sent at or after `sentSince`; 0 when none. */
  largestSince(sentSince: number): number {
    let largest = 0;
    this.eachCurrent((slot) => {
      if (this.sentAt[slot]! >= sentSince) largest = Math.max(largest, this.lengths[slot]!);
    });
    return largest;
  }

  private eachCurrent(visit: (slot: number, ref: string) => void): void {
    for (let i = 0; i < this.count; i++) {
      const slot = (this.oldest + i) % this.limit;
      const ref = this.refs[slot]!;
      if (this.index.get(ref) === slot) visit(slot, ref);
    }
  }

  /** Drops records from the oldest side while they are too old; send order is near enough arrival order to stop at the first young one. */
  private forget(now: number): void {
    while (this.count > 0 && now - this.receivedAt[this.oldest]! >= this.keepMs) this.dropOldest();
  }

  private dropOldest(): void {
    const slot = this.oldest;
    this.refs[slot] = undefined; // its index entry, if current, is forgotten with it (swept later)
    this.oldest = (slot + 1) % this.limit;
    this.count--;
  }

  /** Copies the text into the ring, from its start again when it does not fit before the end. */
  private store(slot: number, text: string): void {
    const size = this.ring.length;
    let at = this.written % size;
    // A text of n characters takes at most 3n bytes: when that fits, write it without measuring it first.
    const room = text.length * 3 <= size - at;
    const bytes = room ? 0 : Buffer.byteLength(text, "utf8");
    if (bytes > size) {
      this.lengths[slot] = bytes;
      this.starts[slot] = -1;
      return;
    }
    if (!room && at + bytes > size) {
      this.written += size - at; // the tail is skipped
      at = 0;
    }
    const written = this.ring.write(text, at, "utf8");
    this.lengths[slot] = written;
    this.starts[slot] = this.written;
    this.written += written;
  }

  /** The slot's text, unless it was not kept or later texts have overwritten it in the ring. */
  private textAt(slot: number): string | undefined {
    const start = this.starts[slot]!;
    if (start < 0 || start < this.written - this.ring.length) return undefined;
    const at = start % this.ring.length;
    return this.ring.toString("utf8", at, at + this.lengths[slot]!);
  }
}
