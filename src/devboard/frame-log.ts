/** A bounded record of every frame the dev plugboard saw, for tests and debugging. */

export interface FrameRecord {
  direction: "in" | "out";
  consumerId: string;
  text: string;
  at: Date;
}

const DEFAULT_FRAME_LOG_SIZE = 10_000;

export class FrameLog {
  private readonly records: FrameRecord[] = [];

  constructor(private readonly capacity = DEFAULT_FRAME_LOG_SIZE) {}

  get all(): readonly FrameRecord[] {
    return this.records;
  }

  add(record: FrameRecord): void {
    this.records.push(record);
    // Trimming in batches keeps add() cheap once the log is full.
    if (this.records.length > this.capacity) this.records.splice(0, this.records.length - this.capacity + Math.ceil(this.capacity / 10));
  }

  clear(): void {
    this.records.length = 0;
  }
}
