/**
 * `npm run build` (and `npm pack`'s prepack): compiles the framework (src/), the account module
 * (account/) and this repository's own app (app/) to dist/, with type declarations (tsconfig.build.json:
 * JavaScript with source maps, `.ts` import specifiers rewritten to `.js`) and copies the files
 * that are JavaScript already (account/password-worker.mjs). dist/ is emptied first, so an action
 * or migration deleted from the sources is gone from the output too. tsc type-checks while it
 * compiles: a type error fails the build.
 *
 * `--if-stale` (npm start's, migrate's and plugboard's pre-step) builds only when dist/ is missing
 * or older than the sources, and does nothing where there are no sources (the Docker image).
 *
 * Plain JavaScript: it must run before anything is compiled.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = path.join(ROOT, "dist");
/** Written last: its time is the build's. */
const STAMP = path.join(OUT, ".built");
const SOURCE_DIRS = ["src", "account", "app"];
const SOURCE_FILES = ["tsconfig.json", "tsconfig.build.json", "package.json", "scripts/build.mjs"];
/** Not TypeScript, so tsc does not emit them: copied as they are. */
const COPIED = ["account/password-worker.mjs"];

/** The newest modification time among the sources, directories included (a deleted file changes its directory's). */
function newestSource() {
  let newest = 0;
  const visit = (file) => {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) for (const entry of readdirSync(file)) visit(path.join(file, entry));
  };
  for (const dir of SOURCE_DIRS) visit(path.join(ROOT, dir));
  for (const file of SOURCE_FILES) visit(path.join(ROOT, file));
  return newest;
}

export function isStale() {
  if (!existsSync(path.join(ROOT, "src"))) return false; // no sources: dist/ is all there is
  const built = statSync(STAMP, { throwIfNoEntry: false });
  return !built || built.mtimeMs < newestSource();
}

export function build() {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch {
    console.error("build: typescript is not installed (it is a devDependency): run `npm install`, then `npm run build`");
    process.exit(1);
  }
  const started = Date.now();
  rmSync(OUT, { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) {
    // tsc emits even on a type error; leave no output that looks built.
    rmSync(OUT, { recursive: true, force: true });
    console.error("build: tsc failed");
    process.exit(result.status ?? 1);
  }
  for (const file of COPIED) {
    mkdirSync(path.dirname(path.join(OUT, file)), { recursive: true });
    cpSync(path.join(ROOT, file), path.join(OUT, file));
  }
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  // stderr: stdout of `npm start` carries the service's log lines only.
  console.error(`build: dist/ compiled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes("--if-stale") || isStale()) build();
}
