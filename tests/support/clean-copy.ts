/**
 * What a fresh clone of a checkout holds, and an environment for the npm commands run on it.
 * The Dockerfile replay's build context (tests/support/dockerfile.ts), the package test's pack
 * (tests/package.test.ts) and the package benchmark (bench/package.ts) all start from such a copy.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";

/**
 * Copies into `into` the files of the checkout at `root` that a fresh clone would hold (tracked,
 * and new ones not yet committed, not git-ignored), less those `skip` names. With
 * `borrowNodeModules`, the copy's node_modules is a link to the checkout's (the build's TypeScript).
 */
export function cleanCopy(root: string, into: string, options: { skip?: (file: string) => boolean; borrowNodeModules?: boolean } = {}): void {
  const listed = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    if (options.skip?.(file) || !existsSync(path.join(root, file))) continue;
    mkdirSync(path.dirname(path.join(into, file)), { recursive: true });
    cpSync(path.join(root, file), path.join(into, file));
  }
  if (options.borrowNodeModules) symlinkSync(path.join(root, "node_modules"), path.join(into, "node_modules"), "dir");
}

/**
 * This process's environment for a command run as a person would run it: without what `npm test`
 * and the test runner put in it (npm_* settings of this project, the runner's own context and
 * loader, the tests' database), logging JSON.
 */
export function commandEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || ["NODE_TEST_CONTEXT", "NODE_OPTIONS", "DATABASE_URL", "TEST_DATABASE_URL", "INIT_CWD"].includes(key)) continue;
    env[key] = value;
  }
  return { ...env, LOG_FORMAT: "json", ...extra };
}
