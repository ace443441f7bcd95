/**
 * `vera-service build`: compiles the app — its actions/, subscribers/ and migrations/, and what
 * they import — to dist/ with the app's own TypeScript and tsconfig.json, for `vera-service
 * start` on plain node. `.ts` import specifiers become `.js`; tests (`*.test.ts`) are left out;
 * JavaScript and JSON files of those folders are copied as they are. dist/ is emptied first, and
 * a type error fails the build and leaves no dist/ behind.
 */
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import fg from "fast-glob";
import type TypeScript from "typescript";
import { parseCommandLine } from "./arguments.ts";
import { APP_FOLDERS } from "../config.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { printParseResult } from "./print.ts";

export const USAGE = `usage: vera-service build [--dir <folder>] [--out <folder>]
  Compiles the app (actions/, subscribers/, migrations/ and what they import; not its tests)
  with its own TypeScript and tsconfig.json; a type error fails the build.
  --dir <folder>   the app's root (default: .)
  --out <folder>   where the JavaScript goes (default: dist in the app's root)
  -h, --help       this text`;

const SKIPPED = ["**/*.d.ts", "**/*.test.*", "**/node_modules/**"];

export async function build(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: { dir: { type: "string" }, out: { type: "string" } } });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  const root = path.resolve(parsed.values.dir ?? ".");
  const out = path.resolve(root, parsed.values.out ?? "dist");
  const say = (line: string) => process.stderr.write(`vera-service build: ${line}\n`);
  let ts: typeof TypeScript;
  try {
    const require = createRequire(path.join(root, "package.json"));
    ts = require(require.resolve("typescript")) as typeof TypeScript;
  } catch {
    say(`typescript is not installed in ${root} (npm install --save-dev typescript)`);
    return EXIT_CODE.failed;
  }
  const folders = Object.values(APP_FOLDERS).filter((f) => existsSync(path.join(root, f)));
  if (folders.length === 0) {
    say(`${root} has none of ${Object.values(APP_FOLDERS).join("/, ")}/: nothing to build`);
    return EXIT_CODE.usage;
  }
  const started = Date.now();
  const sources = folders.flatMap((f) => fg.sync(`${f}/**/*.{ts,mts}`, { cwd: root, absolute: true, ignore: SKIPPED }));
  const configFile = ts.findConfigFile(root, (f) => ts.sys.fileExists(f), "tsconfig.json");
  const fromConfig = configFile ? ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined }) : undefined;
  if (fromConfig && fromConfig.errors.length > 0) {
    say(ts.formatDiagnostics(fromConfig.errors, formatHost(ts, root)).trim());
    return EXIT_CODE.failed;
  }
  const options: TypeScript.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    ...fromConfig?.options,
    noEmit: false,
    emitDeclarationOnly: false,
    declaration: false,
    sourceMap: true,
    rootDir: root,
    outDir: out,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
  };
  rmSync(out, { recursive: true, force: true });
  const program = ts.createProgram(sources, options);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, formatHost(ts, root)));
    say(`${diagnostics.length} error(s); no dist/ was written (the earlier one was removed, so nothing stale is left to run)`);
    return EXIT_CODE.failed;
  }
  const emitted = program.emit();
  if (emitted.emitSkipped) {
    rmSync(out, { recursive: true, force: true });
    say("tsc emitted nothing");
    return EXIT_CODE.failed;
  }
  for (const file of folders.flatMap((f) => fg.sync(`${f}/**/*.{js,mjs,cjs,json}`, { cwd: root, ignore: SKIPPED }))) {
    mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
    cpSync(path.join(root, file), path.join(out, file));
  }
  say(`${sources.length} file(s) of ${folders.map((f) => `${f}/`).join(", ")} compiled to ${path.relative(process.cwd(), out) || "."} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return EXIT_CODE.ok;
}

function formatHost(ts: typeof TypeScript, root: string): TypeScript.FormatDiagnosticsHost {
  return { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" };
}
