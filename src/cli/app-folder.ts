/**
 * The app a `vera-service` subcommand works on: its folder (`--dir`, else the subcommand's
 * default: the sources `.` for dev and build, the compiled `dist` for start), the TypeScript
 * loader its sources need, and the providers its actions and subscribers use (which decide the
 * migrations that run and the modules' commands). Every folder comes from the app's root, never
 * from beside the framework's files: installed, those are inside node_modules.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import fg from "fast-glob";
import type { Config } from "../config.ts";
import type { Logger } from "../ops/logger.ts";
import { dependencyOrder, type Provider } from "../providers.ts";
import { APP_FOLDERS } from "../config.ts";

/** `--dir` of every subcommand that reads an app. */
export const DIR_OPTION = { dir: { type: "string" } } as const;

export class AppFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AppFolderError";
  }
}

/**
 * Where the app is: `--dir`, else APP_DIR, else the subcommand's default. Sets APP_DIR for the
 * configuration (src/config.ts) the subcommand then loads.
 */
export function useAppDir(dir: string | undefined, fallback: string): string {
  const chosen = path.resolve(dir ?? process.env.APP_DIR ?? fallback);
  if (!existsSync(chosen) || !statSync(chosen).isDirectory()) throw new AppFolderError(`${path.relative(process.cwd(), chosen) || "."}: no such folder`);
  process.env.APP_DIR = chosen;
  return chosen;
}

/** The compiled app when there is one (dist/ holding any of the app's folders), else the sources. */
export function builtOrSources(root = "."): string {
  const dist = path.join(root, "dist");
  return Object.values(APP_FOLDERS).some((folder) => existsSync(path.join(dist, folder))) ? dist : root;
}

/**
 * A subcommand's app: its root (APP_DIR set from it), with TypeScript made loadable when it holds
 * some (`typescript`, default yes); or, when it cannot be, undefined after one line on stderr
 * naming the command (and `hint`), for the caller to exit 2.
 */
export async function openApp(command: string, dir: string | undefined, fallback: string, options: { typescript?: boolean; hint?: string } = {}): Promise<string | undefined> {
  try {
    const root = useAppDir(dir, fallback);
    if (options.typescript ?? true) await loadTypeScriptFor(root);
    return root;
  } catch (error) {
    if (!(error instanceof AppFolderError)) throw error;
    process.stderr.write(`vera-service ${command}: ${error.message}${options.hint ? ` (${options.hint})` : ""}\n`);
    return undefined;
  }
}

/** Whether a folder of the app holds TypeScript files (so needs a loader to be imported). */
function holdsTypeScript(appDir: string): boolean {
  const folders = Object.values(APP_FOLDERS).map((f) => path.join(appDir, f)).filter((f) => existsSync(f));
  return folders.some((cwd) => fg.sync("**/*.{ts,mts}", { cwd, ignore: ["**/*.d.ts", "**/node_modules/**"] }).length > 0);
}

/** Running from the framework's own sources (this repository under tsx): a loader is there already. */
const LOADER_PRESENT = import.meta.url.endsWith(".ts");
let registered = false;

/**
 * Registers tsx (the app's devDependency) so that the app's .ts files import, unless a loader is
 * present already or the app holds none. tsx reads the app's tsconfig.json from the working directory.
 */
export async function loadTypeScriptFor(appDir: string): Promise<void> {
  if (LOADER_PRESENT || registered || !holdsTypeScript(appDir)) return;
  let api: string;
  try {
    api = tsxEsmApi(appDir);
  } catch {
    throw new AppFolderError(
      `${path.relative(process.cwd(), appDir) || "."} holds TypeScript, and tsx is not installed there to load it: \`npm install --save-dev tsx\`, or compile it (vera-service build) and use dist/`,
    );
  }
  const { register } = (await import(pathToFileURL(api).href)) as { register: () => unknown };
  register();
  registered = true;
}

/**
 * tsx's ESM API as installed for the app: require.resolve would give its CommonJS entry (the
 * `require` condition), which cannot register the ESM hooks, so the `import` one is read from
 * its package.json.
 */
function tsxEsmApi(appDir: string): string {
  const manifest = createRequire(path.join(path.resolve(appDir), "package.json")).resolve("tsx/package.json");
  const { exports } = JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, unknown> };
  const entry = exports["./esm/api"] as { import?: string | { default?: string } } | undefined;
  const file = typeof entry?.import === "string" ? entry.import : entry?.import?.default;
  if (!file) throw new Error("this tsx has no ESM API (tsx 4 or later is needed)");
  return path.join(path.dirname(manifest), file);
}

/** The providers the app's actions and subscribers use, in dependency order (each once). */
export async function appProviders(config: Readonly<Config>, log: Logger): Promise<Provider<unknown>[]> {
  const [{ loadActions }, { loadSubscribers }] = await Promise.all([import("../actions/registry.ts"), import("../domain-events/load-subscribers.ts")]);
  const registry = await loadActions({ dir: config.actionsDir, log });
  const subscribers = await loadSubscribers(config.events.subscribersDir, log);
  return dependencyOrder([...registry.providers, ...subscribers.flatMap((s) => s.providers ?? [])]);
}
