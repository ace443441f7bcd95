/**
 * The compiled service the process-level tests run, as production runs it. tests/run.ts calls
 * buildForTests() once before any test file starts: `npm run build`'s script when dist/ is stale
 * (scripts/build.mjs --if-stale), then the fixture actions of tests/fixtures/ compiled beside it
 * into dist-tests/ with the examples/ they re-export, their imports of the framework pointed at
 * dist/ — so an action a compiled service loads extends the very Action class that service checks
 * against.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fg from "fast-glob";
import ts from "typescript";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const DIST = path.join(ROOT, "dist");
const FIXTURES_OUT = path.join(ROOT, "dist-tests");

/**
 * `npm start`'s command, from package.json: "node <flags> dist/src/cli/main.js start --dir dist/app":
 * node's flags, the entry, and the entry's arguments (paths made absolute, so it runs from anywhere).
 */
export function startCommand(): { flags: string[]; entry: string; args: string[] } {
  const words = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1);
  const at = words.findIndex((w) => !w.startsWith("-"));
  const args = words.slice(at + 1).map((w, i, all) => (all[i - 1] === "--dir" ? path.join(ROOT, w) : w));
  return { flags: words.slice(0, at), entry: path.join(ROOT, words[at]!), args };
}

/** The compiled entry, or a clear error when the test runner has not built it. */
export function compiledEntry(): string {
  const { entry } = startCommand();
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run the tests through \`npm test\` (tests/run.ts builds first) or run \`npm run build\``);
  return entry;
}

/** node's arguments for `npm start`'s command: its flags, the compiled entry and its arguments. */
export function serviceArgs(extraFlags: readonly string[] = []): string[] {
  const { flags, args } = startCommand();
  return [...flags, ...extraFlags, compiledEntry(), ...args];
}

/**
 * node's arguments for `npm run <script> -- <args>`, read from package.json's script
 * ("node dist/src/cli/main.js migrate --dir dist/app"): its paths made absolute, so it runs from anywhere.
 */
export function cliArgs(script: string, ...args: string[]): string[] {
  const words = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts[script]?.split(/\s+/);
  if (words?.[0] !== "node") throw new Error(`package.json has no script "${script}" run by node`);
  return [...words.slice(1).map((w) => (w.includes("/") && !w.startsWith("-") ? path.join(ROOT, w) : w)), ...args];
}

/** A fixture folder of tests/fixtures/, compiled: e.g. compiledFixtures("actions"). */
export function compiledFixtures(name: string): string {
  const dir = path.join(FIXTURES_OUT, "tests", "fixtures", name);
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run the tests through \`npm test\` (tests/run.ts compiles the fixtures)`);
  return dir;
}

export function buildForTests(): void {
  const result = spawnSync(process.execPath, [path.join(ROOT, "scripts/build.mjs"), "--if-stale"], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error("the build failed");
  compileFixtures();
}

/** Each fixture and example file transpiled on its own (they are few and small); relative imports rewritten. */
function compileFixtures(): void {
  rmSync(FIXTURES_OUT, { recursive: true, force: true });
  for (const file of fg.sync(["tests/fixtures/**/*.ts", "examples/**/*.ts"], { cwd: ROOT, ignore: ["**/*.test.ts"] })) {
    const source = path.join(ROOT, file);
    const out = path.join(FIXTURES_OUT, file.replace(/\.ts$/, ".js"));
    const { outputText } = ts.transpileModule(readFileSync(source, "utf8"), {
      fileName: source,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, rewriteRelativeImportExtensions: true, verbatimModuleSyntax: true },
    });
    const rewritten = outputText.replace(/((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\2/g, (_match, lead: string, quote: string, specifier: string) => {
      const target = path.relative(ROOT, path.resolve(path.dirname(source), specifier));
      // A fixture or an example stays beside the others; the framework is the compiled one.
      const besides = target.startsWith(`tests${path.sep}`) || target.startsWith(`examples${path.sep}`);
      const compiled = path.join(besides ? FIXTURES_OUT : DIST, target);
      let relative = path.relative(path.dirname(out), compiled).split(path.sep).join("/");
      if (!relative.startsWith(".")) relative = `./${relative}`;
      return `${lead}${quote}${relative}${quote}`;
    });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, rewritten);
  }
}
