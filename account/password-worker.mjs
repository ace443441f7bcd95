/**
 * Runs in a worker thread of the password pool (account/passwords.ts): bcrypt is pure CPU,
 * so it blocks this thread instead of the event loop. The main thread has already normalized
 * the password and checked its length; the byte check here is the last line of defence
 * against bcrypt's silent truncation at 72 bytes.
 *
 * Plain JavaScript on purpose: the pool starts its threads without tsx (execArgv: []), which
 * saves each thread the TypeScript loader (~30 MB of memory apiece).
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { workerData } from "node:worker_threads";
import bcrypt from "bcryptjs";

const MAX_BYTES = 72;

/** How much lower than the event loop's this thread runs (nice +10: about a tenth of its weight). */
const NICENESS = 10;

/**
 * On Linux a thread has its own nice value, set through its thread id. With bcrypt at a lower
 * priority, the event loop (heartbeats, cheap requests) and the database get the cores first
 * when they need them, and bcrypt still takes every idle cycle: its throughput alone is the
 * same. Elsewhere this is skipped, and the bounded lane (account/passwords.ts) still holds.
 */
function lowerThisThreadsPriority() {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, NICENESS);
  } catch {
    // No /proc, or not allowed: run at the normal priority.
  }
}
if (workerData?.lowerPriority !== false) lowerThisThreadsPriority();

/** @param {import("./passwords.ts").PasswordTask} task */
export default function run(task) {
  if (Buffer.byteLength(task.password, "utf8") > MAX_BYTES) throw new RangeError("password longer than 72 bytes");
  if (task.op === "hash") return bcrypt.hashSync(task.password, task.cost);
  return bcrypt.compareSync(task.password, task.digest);
}
