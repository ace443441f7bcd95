/**
 * The framework as its users get it: packed (`npm pack`, which builds first), an app scaffolded
 * from the tarball with `npx --package <tarball> vera-service init` in a folder outside this
 * checkout, its dependencies installed from the registry, and run through its own scripts — the
 * `vera-service` command. Nothing here reaches into this checkout's sources or node_modules
 * except the dev plugboard the test hosts in-process to stand for a Vera Plugboard.
 *
 * The pack runs in a copy of the checkout (what a fresh clone holds), so that its build does
 * not rewrite the dist/ the other process-level tests are running from.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { DevPlugboard } from "../src/devboard/server.ts";
import { ROOT } from "./support/build.ts";
import { buildContext, removeStages, replayDockerfile } from "./support/dockerfile.ts";
import { cleanCopy, commandEnv } from "./support/clean-copy.ts";
import { serviceDatabaseEnv, startProcess, type ServiceProcess } from "./support/process.ts";

const exec = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";

/**
 * The commands this file ran, as a person would type them: `npx --yes --package <tarball>
 * vera-service init …` is `vera-service init …`, `npm install --no-audit --no-fund` is
 * `npm install`. The README check at the end holds the README's commands to these.
 */
const ran = new Set<string>();
const UNSPOKEN_FLAGS = new Set(["--yes", "--no-audit", "--no-fund", "--json"]);
const UNSPOKEN_WITH_VALUE = new Set(["--package", "--pack-destination"]);
function spoken(words: readonly string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (UNSPOKEN_WITH_VALUE.has(words[i]!)) i++;
    else if (!UNSPOKEN_FLAGS.has(words[i]!)) kept.push(words[i]!);
  }
  // `npx vera-service …` and `vera-service …` are one command.
  return kept.join(" ").replace(/^npx(\.cmd)? /, "").replace(/^npm\.cmd /, "npm ");
}

/** Runs a command to its end; a non-zero exit throws with the output, unless `allowFailure` (then `code` says). */
async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
  options: { allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  ran.add(spoken([command, ...args]));
  const started = performance.now();
  try {
    const { stdout, stderr } = await exec(command, args, { cwd, env: commandEnv(env), maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr, ms: Math.round(performance.now() - started) };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    const output = `${failed.stdout ?? ""}${failed.stderr ?? ""}`;
    if (options.allowFailure) return { code: failed.code ?? 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "", ms: Math.round(performance.now() - started) };
    throw new Error(`${command} ${args.join(" ")} in ${cwd} failed (exit ${failed.code}):\n${output.slice(-4000)}`);
  }
}

/** A long-running command (npm run dev, npm start …), recorded as run. */
function launch(command: string, args: string[], options: { cwd: string; env: Record<string, string | undefined> }): ServiceProcess {
  ran.add(spoken([command, ...args]));
  return startProcess(command, args, options);
}

/** `tsc --noEmit` in the app: its exit code and output (a failure is an answer here, not an error). */
async function typecheck(app: string): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await run(npx, ["tsc", "--noEmit"], app, {}, { allowFailure: true });
  return { code, output: `${stdout}${stderr}` };
}

const GREET_URL = (explorer: string) => `${explorer.replace(/\/$/, "")}/`;

async function post(url: string, action: string, fields: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action, fields }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * The README's "Build your own service": its section, the files it shows (each code block that
 * starts with a `// <path>` line), and the commands it names.
 */
const README_SECTION = (() => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const from = readme.indexOf("## Build your own service");
  assert.ok(from >= 0, "the README has a Build your own service section");
  return readme.slice(from, readme.indexOf("\n## ", from + 1));
})();
const README_FILES = new Map(
  [...README_SECTION.matchAll(/```ts\n\/\/ ([^\n]+)\n([\s\S]*?)```/g)].map((m) => [m[1]!, `// ${m[1]}\n${m[2]}`] as const),
);
const readmeFile = (name: string) => {
  const text = README_FILES.get(name);
  assert.ok(text, `the README shows ${name}`);
  return text;
};

/** The commands of the section this file does not run, and what stands for each. */
const NOT_RUN_HERE: Record<string, string> = {
  "cd my-service": "every command here runs in the app's folder",
  "npm run bench -- package": "bench/package.ts: the same steps, timed",
  "docker build -t my-service .": "the scaffold's Dockerfile, replayed stage by stage (no Docker on these machines)",
  "docker compose up --build": "the scaffold's compose file, checked against the replayed image",
};

describe("vera-service as a package: npm pack, npx vera-service init, an app outside the checkout", () => {
  const here = mkdtempSync(path.join(tmpdir(), "vera-package-"));
  const app = path.join(here, "my-service");
  let tarball: string;
  let board: DevPlugboard;
  const children: ServiceProcess[] = [];
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await board?.stop();
    rmSync(here, { recursive: true, force: true });
  });

  before(async () => {
    board = await DevPlugboard.start({ requestTimeoutMs: 15_000 });
  });

  /** `npm start` in the app (its compiled dist/, plain node), joined to the test's plugboard. */
  async function startApp(label: string): Promise<ServiceProcess> {
    const child = launch(npm, ["start"], {
      cwd: app,
      env: commandEnv({
        ...(await serviceDatabaseEnv()),
        WEBSOCKET_URL: board.socketUrl,
        TOKEN: board.token,
        JWT_SECRET: "package-test-secret-that-is-at-least-32-bytes",
      }),
    });
    children.push(child);
    await child.waitForLine((l) => l.msg === "joined the plugboard", 60_000).catch((error: Error) => {
      throw new Error(`${label}: ${error.message}`);
    });
    return child;
  }

  /** SIGTERM to the process group (npm and the service, as a terminal's Ctrl-C or a container stop): the service drains and stops cleanly. */
  async function stop(child: ServiceProcess): Promise<void> {
    child.kill("SIGTERM");
    await child.waitForLine((l) => l.msg === "stopped cleanly", 30_000);
    await child.exited;
  }

  test("npm pack builds first and ships dist/, the type declarations, the templates, README and LICENSE, and nothing else", async (t) => {
    const checkout = path.join(here, "checkout");
    cleanCopy(ROOT, checkout, { borrowNodeModules: true });
    assert.ok(!existsSync(path.join(checkout, "dist")), "the copy holds no build output");
    const packed = await run(npm, ["pack", "--json", "--pack-destination", here], checkout);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(here, path.basename(info!.filename));
    t.diagnostic(`npm pack (build included): ${packed.ms} ms, ${info!.files.length} files`);
    const shipped = info!.files.map((f) => f.path);
    for (const needed of ["package.json", "README.md", "LICENSE", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/testing.js", "dist/account/index.js", "dist/account/index.d.ts", "dist/src/cli/main.js", "templates/init/actions/Greet.ts"]) {
      assert.ok(shipped.includes(needed), `ships ${needed}`);
    }
    const strays = shipped.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/(src|account)\/.*\.(js|mjs|d\.ts|json)|templates\/init\/.*)$/.test(f));
    assert.deepEqual(strays, [], "nothing but dist/, the templates, README, LICENSE and package.json");
    assert.deepEqual(shipped.filter((f) => /\.test\.|^tests\/|^bench\/|fixtures/.test(f)), ["templates/init/test/Greet.test.ts"], "no tests, bench or fixtures but the scaffold's own test");
  });

  test("npx --package <tarball> vera-service init writes an app that installs from the tarball and the registry, and answers Greet in dev", async (t) => {
    const started = performance.now();
    assert.ok(tarball, "the pack test made the tarball");
    const init = await run(npx, ["--yes", "--package", tarball, "vera-service", "init", "my-service"], here);
    assert.match(init.stdout, /wrote my-service in my-service/);
    const manifest = JSON.parse(readFileSync(path.join(app, "package.json"), "utf8")) as { scripts: Record<string, string>; dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(manifest.scripts).sort(), ["build", "dev", "migrate", "start", "test", "typecheck"]);
    assert.equal(manifest.dependencies["vera-service"], `file:vendor/${path.basename(tarball)}`, "the tarball it ran from, copied into the app");
    assert.match(manifest.dependencies.zod!, /^\^4\./);
    for (const file of ["tsconfig.json", "actions/Greet.ts", "test/Greet.test.ts", ".env.example", ".gitignore", ".dockerignore", "Dockerfile", "docker-compose.yml", "README.md"]) {
      assert.ok(existsSync(path.join(app, file)), `writes ${file}`);
    }
    // The vendored tarball is the dependency: \`npm install\` installs it, the rest from the registry.
    const install = await run(npm, ["install", "--no-audit", "--no-fund"], app);
    assert.ok(existsSync(path.join(app, "node_modules", "vera-service", "dist", "src", "index.js")));
    t.diagnostic(`init ${init.ms} ms, npm install ${install.ms} ms`);

    const dev = launch(npm, ["run", "dev"], { cwd: app, env: commandEnv({ PLUGBOARD_PORT: "0" }) });
    children.push(dev);
    await dev.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
    const url = GREET_URL(String(dev.lines().find((l) => typeof l.explorer === "string")!.explorer));
    const greeted = await post(url, "Greet", { name: "Ada" });
    assert.equal(greeted.status, 200, JSON.stringify(greeted.body));
    assert.deepEqual(greeted.body.fields, { greeting: "Hello, Ada!" });
    t.diagnostic(`init + install + first answer in dev: ${Math.round(performance.now() - started)} ms`);
    const unknown = await post(url, "Greet", { name: "Ada", shout: true });
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.ok(!existsSync(path.join(app, ".data")), "Greet needs no database: none was opened");

    // The dev loop: an added action is published and answers.
    const wave = path.join(app, "actions", "Wave.ts");
    t.after(() => rmSync(wave, { force: true })); // the later tests build without it
    writeFileSync(wave, `import { z } from "zod";\nimport { Action, ok } from "vera-service";\n\nexport class Wave extends Action.with({ description: "Waves", schema: z.object({}) }) {\n  run() {\n    return ok("Waved", {});\n  }\n}\n`);
    await dev.waitForLine((l) => l.msg === "actions reloaded and published again" && (l.actions as string[]).includes("Wave"), 15_000);
    assert.equal((await post(url, "Wave", {})).status, 200);
    await stop(dev);
  });

  test("the scaffold's npm test passes; tsc --noEmit passes, and fails on a misspelled field", async () => {
    await run(npm, ["test"], app);
    assert.equal((await typecheck(app)).code, 0);
    writeFileSync(
      path.join(app, "actions", "Typo.ts"),
      `import { z } from "zod";\nimport { Action, ok, type Fields } from "vera-service";\n\nexport class Typo extends Action.with({ description: "Typo", schema: z.object({ name: z.string() }) }) {\n  run({ nmae }: Fields<typeof Typo>) {\n    return ok("Done", { nmae });\n  }\n}\n`,
    );
    const broken = await typecheck(app);
    unlinkSync(path.join(app, "actions", "Typo.ts"));
    assert.notEqual(broken.code, 0);
    assert.match(broken.output, /Typo\.ts.*nmae/);
  });

  let publishedOnZod4: unknown;

  test("with the account line, a migration and a subscriber: npm run build, then npm start on plain node behind a plugboard — Greet, unknown fields at every depth, the app's table and its event, Register and Login", async () => {
    // The files the README shows, as it shows them.
    for (const folder of ["migrations", "subscribers"]) mkdirSync(path.join(app, folder));
    for (const file of ["actions/account.ts", "actions/PlaceOrder.ts", "migrations/0001_orders.ts", "subscribers/pack-order.ts"]) writeFileSync(path.join(app, file), readmeFile(file));
    assert.equal((await typecheck(app)).code, 0, "the account line and a migration type-check");
    await run(npm, ["run", "build"], app);
    assert.ok(["actions/PlaceOrder.js", "migrations/0001_orders.js", "subscribers/pack-order.js"].every((file) => existsSync(path.join(app, "dist", file))));

    const service = await startApp("zod 4");
    publishedOnZod4 = board.publishedActions();
    await exerciseApp(service);
    await stop(service);
  });

  async function exerciseApp(service: ServiceProcess): Promise<void> {
    assert.equal((await board.request("Greet", { name: "Ada" })).status, 200);
    const unknown = await board.request("Greet", { name: "Ada", shout: true });
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    const deep = await board.request("PlaceOrder", { sku: "W-1", quantity: 3, wrapping: { gift: true, color: "red" } });
    assert.equal(deep.status, 400, `an unknown field one level down: ${JSON.stringify(deep.body)}`);
    const placed = await board.request("PlaceOrder", { sku: "W-1", quantity: 3, wrapping: { gift: true } });
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
    // Its event, recorded in the order's transaction, reaches the app's subscriber, named after the service.
    const id = (placed.body as { fields: { id: number } }).fields.id;
    const packed = await service.waitForLine((l) => l.msg === "order to pack" && l.order === `order:${id}`, 20_000);
    assert.deepEqual([packed.sku, packed.source], ["W-1", "my-service"]);

    const username = `ada_${Math.random().toString(36).slice(2, 8)}`;
    const registered = await board.request("Register", { name: "Ada", username, password: "correct horse battery" });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const login = await board.request("Login", { username, password: "correct horse battery" });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(service.lines().filter((l) => [50, 60, "error", "fatal"].includes(l.level as string)).length, 0, service.output().slice(-2000));
  }

  test("the app's migration made its table, recorded as the app's", async () => {
    const { DATABASE_URL } = await serviceDatabaseEnv();
    const service = launch(npm, ["run", "migrate"], { cwd: app, env: commandEnv({ DATABASE_URL }) });
    assert.equal((await service.exited).code, 0, service.output());
    await run(npx, ["vera-service", "migrate", "--check"], app, { DATABASE_URL });
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by table_name");
      const names = tables.rows.map((r) => r.table_name);
      for (const table of ["orders", "users", "vera_app_migration", "vera_account_migration", "vera_framework_migration"]) assert.ok(names.includes(table), `${table} in ${names.join(", ")}`);
      const applied = await client.query<{ name: string }>("select name from vera_app_migration");
      assert.deepEqual(applied.rows.map((r) => r.name), ["0001_orders"]);
    } finally {
      await client.end();
    }
  });

  test("the scaffold's Dockerfile, replayed: a build stage, a runtime stage on plain node without TypeScript, and its service answers", async (t) => {
    await run("git", ["init", "-q"], app);
    const context = buildContext(app);
    t.after(() => rmSync(context, { recursive: true, force: true }));
    assert.ok(!existsSync(path.join(context, "node_modules")) && !existsSync(path.join(context, "dist")), "the context is what a clone holds");
    const npmCache = mkdtempSync(path.join(tmpdir(), "vera-npm-cache-"));
    t.after(() => rmSync(npmCache, { recursive: true, force: true }));
    const stages = replayDockerfile(path.join(context, "Dockerfile"), context, { env: { npm_config_cache: npmCache } });
    t.after(() => removeStages(stages));
    const runtime = stages.at(-1)!;
    for (const tool of ["tsx", "typescript", "esbuild"]) assert.ok(!existsSync(path.join(runtime.workdir, "node_modules", tool)), `no ${tool} in the image`);
    assert.ok(runtime.user && runtime.user !== "root", "runs as a non-root user");
    const cmd = runtime.cmd!;
    assert.equal(cmd[0], "node", "plain node");
    const child = startProcess(process.execPath, cmd.slice(1), {
      cwd: runtime.workdir,
      env: {
        PATH: process.env.PATH,
        ...runtime.env,
        HEALTH_PORT: "0",
        WEBSOCKET_URL: board.socketUrl,
        TOKEN: board.token,
        JWT_SECRET: "package-test-secret-that-is-at-least-32-bytes",
        ...(await serviceDatabaseEnv()),
      },
    });
    children.push(child);
    await child.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
    assert.equal((await board.request("Greet", { name: "Ada" })).status, 200);
    assert.equal((await board.request("Register", { name: "Ada", username: "ada_image", password: "correct horse battery" })).status, 201);
    await stop(child);

    // docker compose up --build: the scaffold's compose file builds this image for the service
    // and for its dev plugboard, whose command is a file the image holds.
    const compose = readFileSync(path.join(app, "docker-compose.yml"), "utf8");
    for (const service of ["postgres", "plugboard", "my-service"]) assert.match(compose, new RegExp(`^  ${service}:$`, "m"));
    const plugboard = /command: (\[.*\])/.exec(compose.slice(compose.indexOf("  plugboard:")));
    const command = JSON.parse(plugboard![1]!) as string[];
    assert.equal(command[0], "node");
    assert.ok(existsSync(path.join(runtime.workdir, command[1]!)), `the image holds ${command[1]}`);
  });

  test("vera-service --help lists the commands, the account module's roles among them; each has --help", async () => {
    const { stdout } = await run(npx, ["vera-service", "--help"], app);
    for (const command of ["init", "dev", "build", "start", "migrate", "client", "plugboard"]) assert.match(stdout, new RegExp(`^  ${command}\\b`, "m"), `lists ${command}`);
    assert.match(stdout, /the account module: roles/);
    for (const command of ["init", "dev", "build", "start", "migrate", "roles"]) assert.match((await run(npx, ["vera-service", command, "--help"], app)).stdout, /^usage: /);
  });

  test("the same app on zod 3 (npm install zod@3): it type-checks, builds, refuses unknown fields at every depth and publishes the same schemas", async () => {
    await run(npm, ["install", "--no-audit", "--no-fund", "zod@3"], app);
    const installed = JSON.parse(readFileSync(path.join(app, "node_modules", "zod", "package.json"), "utf8")) as { version: string };
    assert.match(installed.version, /^3\./);
    assert.equal((await typecheck(app)).code, 0, "zod 3 type-checks");
    await run(npm, ["run", "build"], app);
    const service = await startApp("zod 3");
    assert.ok(publishedOnZod4, "the zod 4 test published its schemas");
    assert.deepEqual(board.publishedActions(), publishedOnZod4, "the published schemas are the same with either major");
    await exerciseApp(service);
    await stop(service);
  });
});

test("the README's Build your own service: every command it names was run above", () => {
  const named = new Set<string>();
  for (const block of README_SECTION.matchAll(/```sh\n([\s\S]*?)```/g)) for (const line of block[1]!.split("\n")) if (line.trim()) named.add(line.replace(/\s+#.*$/, "").trim());
  for (const [, command] of README_SECTION.matchAll(/`((?:npm|npx|vera-service|docker|cd) [^`]+)`/g)) named.add(command!);
  assert.ok(named.has("npm run dev") && named.has("npm start"), `the section's commands are found: ${[...named].join(" | ")}`);
  // A README command is run when a command run above is it, or it with more arguments (`vera-service roles` as `vera-service roles --help`).
  const isRun = (command: string) => [...ran].some((done) => done === command || done.startsWith(`${command} `));
  const missing = [...named].filter((command) => !NOT_RUN_HERE[command] && !isRun(spoken(command.split(/\s+/))));
  assert.deepEqual(missing, [], `commands the README names that this file did not run (it ran: ${[...ran].join(" | ")})`);
});
