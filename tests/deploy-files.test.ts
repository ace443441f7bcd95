/**
 * Docker cannot run here, so these tests run what the image runs instead of reading it: the
 * runtime stage's files (the build output and a production-only install, in a temp dir) started
 * with its CMD and environment serve a request through a dev plugboard and pass its HEALTHCHECK
 * command. Only what cannot run is checked as text: the base images, the stages, USER,
 * HEALTHCHECK. And docker-compose.yml is scalable and has its healthchecks, and .env.example
 * names only variables the service reads (src/config.ts, account/settings.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import fg from "fast-glob";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig, readSettings } from "../src/config.ts";
import { accountSettings } from "../account/settings.ts";
import { configVariables } from "./support/variables.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { ROOT } from "./support/build.ts";
import { buildContext, instructions, removeStages, replayDockerfile, ReplayError, type Instruction, type ReplayedStage } from "./support/dockerfile.ts";
import { freePort } from "../src/net.ts";
import { until } from "./support/consumer.ts";
import { serviceDatabaseEnv } from "./support/process.ts";

const read = (file: string) => readFileSync(file, "utf8");

/** The instructions of the last stage (the image that runs). */
function runtimeStage(all: Instruction[]): Instruction[] {
  const lastFrom = all.map((i) => i.name).lastIndexOf("FROM");
  return all.slice(lastFrom);
}

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/**
 * Just enough YAML for docker-compose.yml: block maps and lists by indentation, plain or quoted
 * scalars, and flow lists written as JSON. (No YAML package is a dependency; this file is ours.)
 */
function parseYaml(text: string): Yaml {
  const lines = text
    .split("\n")
    .map((raw) => ({ indent: raw.search(/\S/), text: raw.trim() }))
    .filter((l) => l.indent >= 0 && !l.text.startsWith("#"));
  let i = 0;
  const scalar = (value: string): Yaml => {
    if (value.startsWith("[")) return JSON.parse(value) as Yaml;
    if (/^".*"$/.test(value)) return JSON.parse(value) as string;
    if (/^'.*'$/.test(value)) return value.slice(1, -1);
    return value;
  };
  const block = (indent: number): Yaml => {
    if (lines[i]!.text.startsWith("- ")) {
      const list: Yaml[] = [];
      while (i < lines.length && lines[i]!.indent === indent && lines[i]!.text.startsWith("- ")) {
        list.push(scalar(lines[i]!.text.slice(2).trim()));
        i++;
      }
      return list;
    }
    const map: Record<string, Yaml> = {};
    while (i < lines.length && lines[i]!.indent === indent) {
      const { text: line } = lines[i]!;
      const colon = line.indexOf(":");
      assert.ok(colon > 0, `a "key: value" line: ${line}`);
      const key = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      i++;
      if (value !== "") map[key] = scalar(value);
      else if (i < lines.length && lines[i]!.indent > indent) map[key] = block(lines[i]!.indent);
      else map[key] = "";
    }
    return map;
  };
  return block(0);
}

const asMap = (value: Yaml | undefined, what: string): Record<string, Yaml> => {
  assert.ok(value && typeof value === "object" && !Array.isArray(value), `${what} is a map`);
  return value;
};

/** What a stage's instructions say, by name: ENV as a map, COPY as [from, sources, destination]. */
function stageEnv(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((i) => i.name === "ENV")) for (const [, name, value] of i.args.matchAll(/([A-Z][A-Z0-9_]*)=(\S+)/g)) env[name!] = value!;
  return env;
}

/** The stage named `name` (FROM … AS name). */
function stage(all: Instruction[], name: string): Instruction[] {
  const from = all.findIndex((i) => i.name === "FROM" && new RegExp(`\\bAS ${name}$`, "i").test(i.args));
  assert.ok(from >= 0, `a stage named ${name}`);
  const next = all.findIndex((i, index) => index > from && i.name === "FROM");
  return all.slice(from, next < 0 ? undefined : next);
}

const all = () => instructions(read("Dockerfile"));

/** TypeScript sources under `root`, node_modules aside (.d.ts declarations are not sources). */
function typeScriptSources(root: string): string[] {
  return fg.sync(["**/*.{ts,mts,cts}"], { cwd: root, ignore: ["**/node_modules/**", "**/*.d.ts", "**/*.d.mts", "**/*.d.cts"], dot: true });
}

test("Dockerfile (text, what cannot run here): Node 24 base images, a build stage that builds, a non-root USER, a HEALTHCHECK", () => {
  const dockerfile = all();
  assert.match(dockerfile.find((i) => i.name === "ARG" && i.args.startsWith("NODE_VERSION="))?.args ?? "", /^NODE_VERSION=24$/, "Node 24 LTS");
  for (const from of dockerfile.filter((i) => i.name === "FROM")) assert.match(from.args, /^node:\$\{NODE_VERSION\}-[a-z]+-slim AS /, from.args);
  const build = stage(dockerfile, "build");
  assert.ok(build.some((i) => i.name === "RUN" && /^npm ci\b/.test(i.args) && !/--omit=dev/.test(i.args)), "the build stage installs the dev dependencies (TypeScript)");
  assert.ok(build.some((i) => i.name === "RUN" && i.args === "npm run build"), "and runs the build, which type-checks");
  assert.ok(stage(dockerfile, "deps").some((i) => i.name === "RUN" && /npm ci\b.*--omit=dev/.test(i.args)), "production dependencies only");

  const runtime = runtimeStage(dockerfile);
  const users = runtime.filter((i) => i.name === "USER");
  assert.ok(users.length > 0, "the runtime stage sets a USER");
  assert.ok(!["root", "0", "0:0"].includes(users.at(-1)!.args), `runs as a non-root user, not ${users.at(-1)!.args}`);
  assert.ok(runtime.findIndex((i) => i.name === "CMD") > runtime.lastIndexOf(users.at(-1)!), "CMD comes after USER");
  assert.match(runtime.find((i) => i.name === "HEALTHCHECK")?.args ?? "", /\/healthz/);
  for (const name of Object.keys(stageEnv(runtime))) {
    if (name !== "NODE_ENV") assert.ok(configVariables().has(name), `ENV ${name} is read by src/config.ts`);
  }
  // Sources stay out of the image: it copies the build output, not src/.
  const copied = runtime.filter((i) => i.name === "COPY").map((i) => i.args);
  assert.deepEqual(copied.filter((c) => /\b(src|tsconfig\.json|actions|migrations)\b/.test(c) && !c.startsWith("--from=build")), []);
  const ignored = read(".dockerignore").split("\n").map((l) => l.trim());
  for (const entry of [".env", ".data", "node_modules", "dist", "tests"]) assert.ok(ignored.includes(entry), `.dockerignore drops ${entry}`);
});

test("the image, replayed without Docker from a fresh clone's files: every stage as written, then its CMD joins a plugboard and registers, and its HEALTHCHECK passes", async (t) => {
  const context = buildContext(ROOT);
  t.after(() => rmSync(context, { recursive: true, force: true }));
  // npm's cache of its own: the deps stage cleans it (`npm cache clean --force`).
  const npmCache = mkdtempSync(path.join(tmpdir(), "vera-npm-cache-"));
  t.after(() => rmSync(npmCache, { recursive: true, force: true }));
  const stages = replayDockerfile(path.join(context, "Dockerfile"), context, { env: { npm_config_cache: npmCache } });
  t.after(() => removeStages(stages));
  const runtime = stages.at(-1)!;
  const app = runtime.workdir;
  assert.ok(!existsSync(path.join(app, "node_modules/tsx")) && !existsSync(path.join(app, "node_modules/typescript")) && !existsSync(path.join(app, "node_modules/esbuild")), "no TypeScript tooling");
  const sources = typeScriptSources(runtime.root);
  assert.deepEqual(sources, [], "no TypeScript source in the image (beside node_modules)");
  assert.ok(runtime.user && !["root", "0", "0:0"].includes(runtime.user), `runs as a non-root user, not ${runtime.user}`);

  const board = await DevPlugboard.start({ requestTimeoutMs: 15_000 });
  t.after(() => board.stop());
  const cmd = runtime.cmd!;
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  assert.equal(cmd.join(" "), scripts.start, "the image runs `npm start`'s command");
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    ...runtime.env,
    HEALTH_PORT: String(await freePort()), // the image's 9090 might be taken on this machine
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    JWT_SECRET: "image-test-secret-that-is-at-least-32-bytes",
    ...(await serviceDatabaseEnv()),
  };
  assert.equal(env.NODE_ENV, "production");
  const child = spawn(cmd[0] === "node" ? process.execPath : cmd[0]!, cmd.slice(1), { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => void (child.exitCode === null && child.kill("SIGKILL")));
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const lines = () => out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  await until(() => lines().some((l) => l.msg === "joined the plugboard"), 90_000, "the image's service joins the plugboard");
  const registered = await board.request("Register", { name: "Ada", username: "ada_image", password: "correct horse battery" });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));

  // The HEALTHCHECK command, run as Docker would run it inside the container.
  const probe = runtime.healthcheck!;
  const healthy = spawnSync(probe[0] === "node" ? process.execPath : probe[0]!, probe.slice(1), { cwd: app, env });
  assert.equal(healthy.status, 0, "healthy while joined");

  // The operator's roles command, from the image's files, on the service's settings: the first administrator.
  const roles = spawnSync(process.execPath, [...scripts.roles!.split(/\s+/).slice(1), "grant", "ada_image", "admin"], { cwd: app, env, encoding: "utf8" });
  assert.equal(roles.status, 0, roles.stderr);
  assert.equal(roles.stdout.trim(), "granted admin to ada_image");

  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  assert.equal(await exited, 0, out.slice(-2000));
  assert.ok(lines().every((l) => typeof l.level === "string"), "JSON log lines only");
});

test("the replay fails as docker build would: a COPY of a file the context lacks, a build stage without a folder the compiler needs", () => {
  const context = buildContext(ROOT);
  const dockerfileText = read("Dockerfile");
  const replay = (text: string) => {
    writeFileSync(path.join(context, "Dockerfile.variant"), text);
    const stages: ReplayedStage[] = [];
    try {
      stages.push(...replayDockerfile(path.join(context, "Dockerfile.variant"), context, { env: { npm_config_offline: "true" } }));
    } finally {
      removeStages(stages);
    }
  };
  try {
    assert.throws(() => replay(dockerfileText.replace("COPY package.json package-lock.json ./", "COPY package.json package-lock.json no-such-file ./")), (e: Error) => e instanceof ReplayError && /holds no no-such-file/.test(e.message));
    // A build stage that names its folders, and forgot one (the one that once broke the image lacked account/).
    const withoutAccount = dockerfileText.replace("COPY . .", "COPY tsconfig.json tsconfig.build.json ./\nCOPY scripts ./scripts\nCOPY src ./src\nCOPY app ./app");
    assert.throws(() => replay(withoutAccount), (e: Error) => e instanceof ReplayError && /RUN npm run build failed/.test(e.message) && /account/.test(e.message));
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
});

test("Dockerfile: the HEALTHCHECK command exits 0 on a 200 from /healthz and 1 on a 503 or no answer", async () => {
  const healthcheck = runtimeStage(instructions(read("Dockerfile"))).find((i) => i.name === "HEALTHCHECK")!.args;
  const command = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD ") + 4)) as string[];
  assert.equal(command[0], "node", "the slim image has node, not curl");
  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    res.writeHead(status, { "content-type": "application/json" }).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const probe = (healthPort: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, command.slice(1), { env: { PATH: process.env.PATH, HEALTH_PORT: String(healthPort) }, stdio: "ignore" });
      child.on("exit", (code) => resolve(code));
    });
  try {
    assert.equal(await probe(port), 0);
    status = 503;
    assert.equal(await probe(port), 1);
    assert.deepEqual(paths, ["/healthz", "/healthz"]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.equal(await probe(port), 1, "nothing listening");
});

test("docker-compose.yml: PostgreSQL, the dev plugboard and the consumer; healthchecks; scalable; configured from .env", () => {
  const compose = asMap(parseYaml(read("docker-compose.yml")), "the file");
  const withoutComments = read("docker-compose.yml").replace(/^\s*#.*$/gm, "");
  assert.doesNotMatch(withoutComments, /container_name/, "no container_name, so --scale works");
  const services = asMap(compose.services, "services");
  assert.deepEqual(Object.keys(services).sort(), ["plugboard", "postgres", "vera-service"]);

  const postgres = asMap(services.postgres, "postgres");
  assert.match(String(postgres.image), /^postgres:16/);
  assert.match(JSON.stringify(asMap(postgres.healthcheck, "postgres healthcheck").test), /pg_isready/);

  const plugboard = asMap(services.plugboard, "plugboard");
  // `npm run plugboard`'s command, run by node directly as the image's CMD is.
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  assert.deepEqual(plugboard.command, scripts.plugboard!.split(" "));
  assert.equal(asMap(plugboard.environment, "plugboard environment").PLUGBOARD_HOST, "0.0.0.0");
  assert.ok(asMap(plugboard.healthcheck, "plugboard healthcheck").test);

  const consumer = asMap(services["vera-service"], "vera-service");
  assert.equal(consumer.env_file, ".env");
  const environment = asMap(consumer.environment, "vera-service environment");
  assert.equal(environment.WEBSOCKET_URL, "ws://plugboard:4000/websocket");
  const dependsOn = asMap(consumer.depends_on, "depends_on");
  for (const dependency of ["postgres", "plugboard"]) {
    assert.equal(asMap(dependsOn[dependency], dependency).condition, "service_healthy", `waits for ${dependency} to be healthy`);
  }
  // A fixed host port would collide between replicas.
  for (const port of (consumer.ports as string[] | undefined) ?? []) assert.doesNotMatch(port, /:/, `port ${port} has no fixed host side`);

  // Every variable the file takes from .env is one .env.example names.
  const example = new Set([...read(".env.example").matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  for (const [, name] of read("docker-compose.yml").matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)\}/g)) {
    assert.ok(example.has(name!), `.env.example names ${name}, which docker-compose.yml uses`);
  }
});

test(".env.example: only variables the service reads, placeholders for the secrets, and a configuration that loads", () => {
  const known = configVariables();
  const text = read(".env.example");
  const entries = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({ name: m[1]!, value: m[2]! }));
  assert.ok(entries.length > 0);
  for (const { name } of entries) assert.ok(known.has(name), `${name} is read by src/config.ts or account/settings.ts`);
  for (const required of ["TOKEN", "JWT_SECRET", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"]) {
    assert.ok(entries.some((e) => e.name === required), `.env.example names ${required}`);
  }
  for (const { name, value } of entries.filter((e) => /TOKEN|SECRET|PASSWORD/.test(e.name))) {
    assert.match(value, /change-me/, `${name} is a placeholder`);
  }
  assert.match(read(".gitignore"), /^\.env$/m, ".env itself is never committed");

  // What a consumer of docker-compose.yml gets: .env.example plus the compose environment, in
  // production mode (NODE_ENV unset, so the production rules such as BCRYPT_COST >= 10 apply).
  const consumerEnv = asMap(asMap(asMap(parseYaml(read("docker-compose.yml")), "file").services, "services")["vera-service"], "vera-service").environment;
  const env = { ...Object.fromEntries(entries.map((e) => [e.name, e.value])), ...(asMap(consumerEnv, "environment") as Record<string, string>) };
  const config = loadConfig(env);
  assert.equal(config.production, true);
  assert.equal(readSettings(accountSettings({ production: true, test: false }), env).jwt.algorithm, "HS256", "the account settings load too");
  assert.equal(config.database?.url, "postgres://vera:change-me@postgres:5432/vera");
});
