import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadActions, ActionLoadError, DuplicateActionError } from "../src/actions/registry.ts";
import { captureLogs } from "./support/logs.ts";

const FIXTURES = "tests/fixtures/actions";

test("registry keeps every Action subclass, direct or indirect, and skips the rest with a reason", async () => {
  const { log, lines } = captureLogs();
  const registry = await loadActions({ dir: FIXTURES, log });
  assert.deepEqual(registry.names, ["BadReturn", "Boom", "Count", "DatabaseDown", "Derived", "Echo", "Hang", "Keys", "Slow", "Teapot"]);
  const skipped = lines().filter((l) => String(l.msg).startsWith("skipped"));
  assert.ok(skipped.some((l) => String(l.file).endsWith("helpers.ts") && /exports no Action/.test(String(l.msg))));
  assert.ok(skipped.some((l) => l.class === "Base" && /no run method/.test(String(l.msg))));
});

test("published schema: description, JSON Schema per field, required list", async () => {
  const { log } = captureLogs();
  const registry = await loadActions({ dir: FIXTURES, log });
  const echo = registry.published.Echo!;
  assert.equal(echo.description, "Echoes the text back");
  assert.deepEqual(echo.required, ["text"]);
  assert.deepEqual(echo.fields.text, { type: "string", minLength: 1, maxLength: 100, description: "What to echo" });
  assert.deepEqual(echo.fields.times, { type: "integer", minimum: 1, maximum: 5, default: 1, description: "How often" });
  // No .describe(): the field's name is its description (the Vera Plugboard's page fails on a field without one).
  assert.deepEqual(echo.fields.shout, { type: "boolean", description: "shout" });
  assert.deepEqual(registry.published.Hang, { description: "Never answers", fields: {}, required: [] });
  assert.deepEqual(JSON.parse(registry.json), registry.published);
});

test("no published field lacks a description, at any depth, in any action of the fixtures, the examples or the account service", async () => {
  const { log } = captureLogs("silent");
  const missing: string[] = [];
  const visit = (where: string, fields: Record<string, unknown>) => {
    for (const [name, field] of Object.entries(fields)) {
      const entry = field as { description?: unknown; properties?: Record<string, unknown> };
      if (typeof entry.description !== "string" || entry.description === "") missing.push(`${where}.${name}`);
      if (entry.properties) visit(`${where}.${name}`, entry.properties);
    }
  };
  for (const dir of [FIXTURES, "examples", "app/actions"]) {
    const registry = await loadActions({ dir, log });
    for (const [action, published] of Object.entries(registry.published)) visit(`${dir}/${action}`, published.fields);
  }
  assert.deepEqual(missing, []);
});

test("the published JSON is the same text in every process (replicas of one build agree)", async () => {
  const script = `import {loadActions} from "./src/actions/registry.ts"; import {createLogger} from "./src/ops/logger.ts";
    const r = await loadActions({dir: "${FIXTURES}", log: createLogger({level: "silent"})}); process.stdout.write(r.json);`;
  const run = () => spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  const [a, b] = [run(), run()];
  assert.equal(a.status, 0, a.stderr);
  assert.ok(a.stdout.length > 100);
  assert.equal(a.stdout, b.stdout);
  const { log } = captureLogs();
  assert.equal(a.stdout, (await loadActions({ dir: FIXTURES, log })).json);
});

test("two actions with one name stop a production start-up; in dev the first is kept, with a warning", async () => {
  const { log, lines } = captureLogs();
  await assert.rejects(loadActions({ dir: "tests/fixtures/dup-actions", log, strict: true }), (error: unknown) => {
    assert.ok(error instanceof DuplicateActionError);
    assert.match(error.message, /Duplicate action name "Same" in .*One\.ts and .*Two\.ts/);
    return true;
  });
  const dev = await loadActions({ dir: "tests/fixtures/dup-actions", log });
  assert.deepEqual(dev.names, ["Same"]);
  assert.match(dev.get("Same")!.file, /One\.ts$/);
  assert.ok(lines().some((l) => l.level === "warn" && /Duplicate action name "Same"/.test(String(l.msg))));
});

test("an action file that fails to import stops a production start-up, naming the file and the reason; in dev it is skipped", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "vera-broken-actions-"));
  writeFileSync(path.join(dir, "Broken.mjs"), 'import "./no-such-module.mjs";\n');
  const { log, lines } = captureLogs();
  await assert.rejects(loadActions({ dir, log, strict: true }), (error: unknown) => {
    assert.ok(error instanceof ActionLoadError);
    assert.match(error.message, /^action file .*Broken\.mjs failed to import: .*no-such-module/);
    assert.doesNotMatch(error.message, /\n/, "one line");
    return true;
  });
  const dev = await loadActions({ dir, log });
  assert.deepEqual(dev.names, []);
  assert.ok(lines().some((l) => l.level === "warn" && l.msg === "skipped action file: it failed to import"));
});

test("no action at all: an error in production, a warning and an empty registry in dev", async () => {
  const { log, lines } = captureLogs();
  await assert.rejects(loadActions({ dir: "tests/fixtures/no-such-folder", log, strict: true }), /^ActionLoadError: no actions found in tests\/fixtures\/no-such-folder/);
  const registry = await loadActions({ dir: "tests/fixtures/no-such-folder", log });
  assert.deepEqual(registry.names, []);
  assert.equal(registry.json, "{}");
  assert.ok(lines().some((l) => l.level === "warn" && /^no actions found/.test(String(l.msg))));
});
