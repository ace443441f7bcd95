/**
 * `npm test` after the type-check: provides a database for the suite (DATABASE_URL when set,
 * else an ephemeral PostgreSQL cluster from the system's binaries or the npm package's) and
 * says which, builds the service once when dist/ is stale (the process-level tests run the
 * compiled entry, as production does; tests/support/build.ts), then runs every
 * tests/**\/*.test.ts and examples/**\/*.test.ts file with node:test through tsx.
 * Extra arguments select files: `npm test -- tests/dispatcher.test.ts`.
 */
import { spawn } from "node:child_process";
import fg from "fast-glob";
import { startTestDatabase } from "./support/database.ts";
import { buildForTests } from "./support/build.ts";

const selected = process.argv.slice(2);
const files = selected.length > 0 ? selected : await fg(["tests/**/*.test.ts", "examples/**/*.test.ts"], { ignore: ["**/node_modules/**"] });
files.sort();

// Which database first, then the build's line: the first line of the output says which.
const database = await startTestDatabase();
console.log(`# database for the tests: ${database.description}`);
buildForTests();

const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=180000", ...files],
  { stdio: "inherit", env: { ...process.env, ...database.env } },
);

const stopAndExit = async (code: number) => {
  await database.stop().catch(() => undefined);
  process.exit(code);
};
process.on("SIGINT", () => child.kill("SIGINT"));
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("exit", (code, signal) => void stopAndExit(code ?? (signal ? 1 : 0)));
