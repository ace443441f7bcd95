/**
 * Docker cannot run here, so these tests check what can be checked without it: the Dockerfile
 * starts the service with `npm start`'s command as a non-root user and probes /healthz (the probe
 * itself is run against a real HTTP server), the image holds every file the service imports,
 * docker-compose.yml is scalable and has its healthchecks, and .env.example names only
 * variables src/config.ts reads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { loadConfig } from "../src/config.ts";

const read = (file: string) => readFileSync(file, "utf8");

interface Instruction {
  name: string;
  args: string;
}

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
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

/** The instructions of the last stage (the image that runs). */
function runtimeStage(all: Instruction[]): Instruction[] {
  const lastFrom = all.map((i) => i.name).lastIndexOf("FROM");
  return all.slice(lastFrom);
}

/** The variable names src/config.ts parses (the keys of its environment schema). */
function configVariables(): Set<string> {
  const source = read("src/config.ts");
  const start = source.indexOf("const envSchema = z.object({");
  assert.ok(start >= 0, "src/config.ts defines envSchema");
  const block = source.slice(start, source.indexOf("\n});", start));
  return new Set([...block.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
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

/** Files reachable from an entry point through relative static and dynamic imports. */
function importGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = read(file);
    for (const match of source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = path.normalize(path.join(path.dirname(file), match[1]!));
      if (existsSync(target)) visit(target);
    }
  };
  visit(entry);
  return seen;
}

test("Dockerfile: multi-stage, production dependencies only, non-root, HEALTHCHECK on /healthz, `npm start`'s command", () => {
  const all = instructions(read("Dockerfile"));
  assert.ok(all.filter((i) => i.name === "FROM").length >= 2, "multi-stage");
  assert.ok(all.some((i) => i.name === "RUN" && /npm ci\b.*--omit=dev/.test(i.args)), "npm ci --omit=dev in the dependency stage");
  const runtime = runtimeStage(all);

  const users = runtime.filter((i) => i.name === "USER");
  assert.equal(users.length > 0, true, "the runtime stage sets a USER");
  assert.ok(!["root", "0", "0:0"].includes(users.at(-1)!.args), `runs as a non-root user, not ${users.at(-1)!.args}`);
  const userAt = runtime.lastIndexOf(users.at(-1)!);
  assert.ok(runtime.findIndex((i) => i.name === "CMD") > userAt, "CMD comes after USER");

  const env = runtime.filter((i) => i.name === "ENV").map((i) => i.args).join(" ");
  assert.match(env, /\bHEALTH_PORT=\d+/, "HEALTH_PORT is set, so /healthz exists");
  for (const name of env.matchAll(/\b([A-Z][A-Z0-9_]*)=/g)) {
    if (name[1] !== "NODE_ENV") assert.ok(configVariables().has(name[1]!), `ENV ${name[1]} is read by src/config.ts`);
  }
  assert.match(runtime.find((i) => i.name === "HEALTHCHECK")?.args ?? "", /\/healthz/);

  // The image starts the service exactly as `npm start` does: the entry point the process tests
  // run (tests/support/process.ts), through tsx.
  const cmd = JSON.parse(runtime.findLast((i) => i.name === "CMD")!.args) as string[];
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  assert.equal(cmd.join(" "), scripts.start);
  assert.match(read("tests/support/process.ts"), /"--import", "tsx", "src\/main\.ts"/);
  const dependencies = (JSON.parse(read("package.json")) as { dependencies: Record<string, string> }).dependencies;
  assert.ok(dependencies.tsx, "tsx is a production dependency: the image runs TypeScript through it");
});

test("Dockerfile: the image holds every file the service and the dev plugboard import, and .dockerignore keeps them", () => {
  const runtime = runtimeStage(instructions(read("Dockerfile")));
  const copied = runtime
    .filter((i) => i.name === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  const needed = new Set<string>();
  for (const entry of ["src/main.ts", "src/devboard/cli.ts", "src/db/migrate-cli.ts"]) {
    for (const file of importGraph(entry)) needed.add(file.split(path.sep)[0]!);
  }
  // Loaded at run time by directory, not imported: the actions and the migrations.
  needed.add("actions").add("migrations");
  for (const top of needed) assert.ok(copied.includes(top), `the image copies ${top}/ (imported by the service)`);
  for (const file of ["package.json", "package-lock.json", "tsconfig.json"]) assert.ok(copied.includes(file), `the image copies ${file}`);

  const ignored = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  for (const path of copied) assert.ok(!ignored.includes(path), `.dockerignore does not drop ${path}`);
  for (const secret of [".env", ".data", "node_modules"]) assert.ok(ignored.includes(secret), `.dockerignore drops ${secret}`);
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
  assert.deepEqual(plugboard.command, ["npm", "run", "plugboard"]);
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

test(".env.example: only variables src/config.ts reads, placeholders for the secrets, and a configuration that loads", () => {
  const known = configVariables();
  const text = read(".env.example");
  const entries = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({ name: m[1]!, value: m[2]! }));
  assert.ok(entries.length > 0);
  for (const { name } of entries) assert.ok(known.has(name), `${name} is read by src/config.ts`);
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
  const config = loadConfig({ ...Object.fromEntries(entries.map((e) => [e.name, e.value])), ...(asMap(consumerEnv, "environment") as Record<string, string>) });
  assert.equal(config.production, true);
  assert.equal(config.database?.url, "postgres://vera:change-me@postgres:5432/vera");
});
