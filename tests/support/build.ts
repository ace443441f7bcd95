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

/** `npm start`'s node flags and entry, from package.json: "node <flags> dist/src/main.js". */
export function startCommand(): { flags: string[]; entry: string } {
  const words = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  return { flags: words.slice(1, -1), entry: path.join(ROOT, words.at(-1)!) };
}

/** The compiled entry, or a clear error when the test runner has not built it. */
export function compiledEntry(): string {
  const { entry } = startCommand();
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run the tests through \`npm test\` (tests/run.ts builds first) or run \`npm run build\``);
  return entry;
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
