/**
 * A Dockerfile replayed without Docker (none runs on these machines), stage by stage as written,
 * so that a test can hold an image to what `docker build` would do:
 *
 * - the build context is a folder of the files a fresh clone holds, less .dockerignore's
 *   patterns (buildContext);
 * - each stage's filesystem is a folder of its own, its root standing for the image's `/`:
 *   WORKDIR and absolute paths in ENV point into it; `FROM <earlier stage>` starts from a copy;
 * - COPY copies from the context, or with --from from an earlier stage's folder, and a source
 *   that is not there fails the replay, as it fails `docker build`;
 * - RUN runs with this machine's `sh`, node and npm (what the node base images give), in the
 *   WORKDIR, with the stage's ENV; a RUN that names an absolute path would reach outside the
 *   stage's folder, so it is refused (write paths relative to WORKDIR);
 * - the last stage's ENV, USER, CMD and HEALTHCHECK are handed back for the test to run.
 *
 * What it cannot replay: the base image's own files, and USER (everything runs as this user).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cleanCopy } from "./clean-copy.ts";

export interface Instruction {
  name: string;
  args: string;
}

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
export function instructions(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, ...rest] = line.split(/\s+/);
      return { name: name!.toUpperCase(), args: rest.join(" ") };
    });
}

/** `KEY=value` pairs of an ENV or ARG line (values may be quoted). */
function assignments(args: string): Array<[string, string]> {
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map(([, name, value]) => [name!, value!.startsWith('"') ? (JSON.parse(value!) as string) : value!]);
}

/** A .dockerignore pattern as a regular expression over context-relative paths (a match covers what is below it). */
function ignorePattern(pattern: string): RegExp {
  const body = pattern
    .replace(/^\/+|\/+$/g, "")
    .split("")
    .map((c, i, all) => {
      if (c === "*") return all[i + 1] === "*" ? "" : all[i - 1] === "*" ? ".*" : "[^/]*";
      if (c === "?") return "[^/]";
      return c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  return new RegExp(`^${body}(/.*)?$`);
}

/**
 * The build context of the checkout at `root`: the files a fresh clone of it would hold (tracked,
 * and new ones not yet committed, not git-ignored), less .dockerignore's patterns, copied to a
 * folder of its own. Returns that folder.
 */
export function buildContext(root: string): string {
  const dockerignore = path.join(root, ".dockerignore");
  const rules = existsSync(dockerignore)
    ? readFileSync(dockerignore, "utf8")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"))
    : [];
  const ignored = (file: string) => {
    let out = false;
    for (const rule of rules) {
      if (rule.startsWith("!")) {
        if (ignorePattern(rule.slice(1)).test(file)) out = false;
      } else if (ignorePattern(rule).test(file)) out = true;
    }
    return out;
  };
  const context = mkdtempSync(path.join(tmpdir(), "vera-context-"));
  cleanCopy(root, context, { skip: ignored });
  return context;
}

export interface ReplayedStage {
  name: string;
  /** The folder standing for the image's `/`. */
  root: string;
  /** WORKDIR as a folder of this machine. */
  workdir: string;
  /** ENV as the stage ends, absolute paths pointing into `root`. */
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
  /** The HEALTHCHECK's command (exec form). */
  healthcheck: string[] | undefined;
}

export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayError";
  }
}

/** Runs `dockerfile`'s stages over `context`; returns every stage, the last one last. Throws ReplayError where `docker build` would fail. */
export function replayDockerfile(dockerfile: string, context: string, options: { env?: Record<string, string | undefined>; log?: (line: string) => void } = {}): ReplayedStage[] {
  const all = instructions(readFileSync(dockerfile, "utf8"));
  const args: Record<string, string> = {};
  const stages: ReplayedStage[] = [];
  const expand = (text: string, vars: Record<string, string>) => text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? "");
  const inStage = (stage: ReplayedStage, imagePath: string) => path.join(stage.root, path.posix.isAbsolute(imagePath) ? imagePath : path.posix.join(path.relative(stage.root, stage.workdir), imagePath));
  let current: ReplayedStage | undefined;
  for (const { name, args: raw } of all) {
    if (name === "ARG" && !current) {
      for (const [key, value] of assignments(raw)) args[key] = value;
      continue;
    }
    if (name === "FROM") {
      const [image, as, stageName] = expand(raw, args).split(/\s+/);
      const root = mkdtempSync(path.join(tmpdir(), "vera-stage-"));
      const base = stages.find((s) => s.name === image);
      if (base) cpSync(base.root, root, { recursive: true, verbatimSymlinks: true });
      current = { name: as?.toUpperCase() === "AS" ? stageName! : String(stages.length), root, workdir: base?.workdir.replace(base.root, root) ?? root, env: { ...(base?.env ?? {}) }, user: base?.user, cmd: base?.cmd, healthcheck: base?.healthcheck };
      stages.push(current);
      options.log?.(`FROM ${image} (${current.name})`);
      continue;
    }
    if (!current) throw new ReplayError(`${name} before FROM`);
    const stage = current;
    const line = expand(raw, { ...args, ...stage.env });
    switch (name) {
      case "ARG":
        for (const [key, value] of assignments(line)) args[key] = args[key] ?? value;
        break;
      case "WORKDIR":
        stage.workdir = inStage(stage, line);
        mkdirSync(stage.workdir, { recursive: true });
        break;
      case "ENV":
        for (const [key, value] of assignments(raw)) stage.env[key] = value.startsWith("/") ? path.join(stage.root, value) : expand(value, { ...args, ...stage.env });
        break;
      case "COPY": {
        const words = line.split(/\s+/);
        const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
        const sources = words.filter((w) => !w.startsWith("--"));
        const destination = sources.pop()!;
        const fromStage = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !fromStage) throw new ReplayError(`COPY --from=${from}: no earlier stage of that name`);
        const target = inStage(stage, destination);
        for (const source of sources) {
          const origin = fromStage ? inStage(fromStage, source) : path.join(context, source);
          if (!existsSync(origin)) throw new ReplayError(`COPY ${from ? `--from=${from} ` : ""}${source}: ${from ? `stage ${from}` : "the build context"} holds no ${source}`);
          // A folder's contents go into the destination; a file goes into it when it is a folder
          // (a trailing slash, or several sources), else becomes it.
          const intoFolder = destination.endsWith("/") || sources.length > 1;
          const into = statSync(origin).isDirectory() || !intoFolder ? target : path.join(target, path.basename(source));
          mkdirSync(path.dirname(into), { recursive: true });
          cpSync(origin, into, { recursive: true, verbatimSymlinks: true });
        }
        options.log?.(`COPY ${line}`);
        break;
      }
      case "RUN": {
        if (/(^|[\s;&|=])\/(?!dev\/null)/.test(line)) throw new ReplayError(`RUN ${line}: names an absolute path, which the replay cannot keep inside the stage (use paths relative to WORKDIR)`);
        options.log?.(`RUN ${line}`);
        const result = spawnSync("sh", ["-c", line], { cwd: stage.workdir, env: { ...process.env, ...options.env, ...stage.env }, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (result.status !== 0) throw new ReplayError(`RUN ${line} failed (exit ${result.status}):\n${(result.stdout + result.stderr).slice(-4000)}`);
        break;
      }
      case "USER":
        stage.user = line;
        break;
      case "CMD":
        stage.cmd = JSON.parse(line) as string[];
        break;
      case "HEALTHCHECK": {
        const at = line.indexOf("CMD ");
        stage.healthcheck = at < 0 ? undefined : (JSON.parse(line.slice(at + 4)) as string[]);
        break;
      }
      case "EXPOSE":
      case "LABEL":
      case "STOPSIGNAL":
        break;
      default:
        throw new ReplayError(`${name}: an instruction the replay does not know`);
    }
  }
  return stages;
}

/** Removes the stages' folders. */
export function removeStages(stages: ReplayedStage[]): void {
  for (const stage of stages) rmSync(stage.root, { recursive: true, force: true });
}
