/**
 * The modules a service process has loaded, seen from inside it: a loader hook appends every
 * module the ESM loader loads (the service's own files, and each package's entry), and on
 * SIGUSR2 a preload writes those together with CommonJS's module cache (what `require` loaded,
 * which the ESM hook does not see: a package loaded through createRequire, a package's own
 * requires) to a file of its own. The process goes on serving after a look.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { until } from "./consumer.ts";
import { startService, type ServiceProcess } from "./process.ts";

export interface RecordedService {
  service: ServiceProcess;
  /** Every module URL the ESM loader loaded so far. */
  loaded(): string[];
  /** Asks the process (SIGUSR2) for every module it holds now, ESM and CommonJS alike: paths and URLs. */
  look(): Promise<string[]>;
}

export function recordingModules(env: Record<string, string | undefined>): RecordedService {
  const dir = mkdtempSync(path.join(tmpdir(), "vera-modules-"));
  const log = path.join(dir, "loaded.txt");
  writeFileSync(log, "");
  writeFileSync(
    path.join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + "\\n"); return next(url, context); }\n`,
  );
  writeFileSync(
    path.join(dir, "register.mjs"),
    `import { register, createRequire } from "node:module";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
register(${JSON.stringify(pathToFileURL(path.join(dir, "hooks.mjs")).href)});
const Module = createRequire(import.meta.url)("node:module");
let looks = 0;
process.on("SIGUSR2", () => {
  const held = [...Object.keys(Module._cache), ...readFileSync(${JSON.stringify(log)}, "utf8").split("\\n").filter(Boolean)];
  const file = ${JSON.stringify(dir)} + "/look-" + ++looks + ".txt";
  writeFileSync(file + ".tmp", held.join("\\n"));
  renameSync(file + ".tmp", file);
});\n`,
  );
  const service = startService(env, { nodeArgs: ["--import", pathToFileURL(path.join(dir, "register.mjs")).href] });
  let looks = 0;
  return {
    service,
    loaded: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
    async look() {
      const file = path.join(dir, `look-${++looks}.txt`);
      service.child.kill("SIGUSR2");
      await until(() => existsSync(file), 10_000, "the process's list of modules");
      return readFileSync(file, "utf8").split("\n").filter(Boolean);
    },
  };
}

/** The packages among modules (paths or URLs): the name after each one's last node_modules/, scoped ones whole. */
export function packagesOf(modules: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const module of modules) {
    const at = module.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const [scope, name] = module.slice(at + "node_modules/".length).split("/");
    names.add(scope!.startsWith("@") ? `${scope}/${name}` : scope!);
  }
  return names;
}
