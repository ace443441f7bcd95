/**
 * Runs in a worker thread of the password pool (src/auth/passwords.ts): bcrypt is pure CPU,
 * so it blocks this thread instead of the event loop. The main thread has already normalized
 * the password and checked its length; the byte check here is the last line of defence
 * against bcrypt's silent truncation at 72 bytes.
 *
 * Plain JavaScript on purpose: the pool starts its threads without tsx (execArgv: []), which
 * saves each thread the TypeScript loader (~30 MB of memory apiece).
 */
import bcrypt from "bcryptjs";

const MAX_BYTES = 72;

/** @param {import("./passwords.ts").PasswordTask} task */
export default function run(task) {
  if (Buffer.byteLength(task.password, "utf8") > MAX_BYTES) throw new RangeError("password longer than 72 bytes");
  if (task.op === "hash") return bcrypt.hashSync(task.password, task.cost);
  return bcrypt.compareSync(task.password, task.digest);
}
