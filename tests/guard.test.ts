/**
 * The sign-in guard, the `signedIn` middleware: `use: [signedIn]` publishes a required `jwt`
 * field, and the token is checked before `run` — 401 "Invalid token: <reason>" and no
 * run at all when it fails; ctx.user and ctx.claims, and fields without `jwt`, when it passes.
 * The README's example of it is run as written.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import jwt from "jsonwebtoken";
import { loadActions } from "../src/actions/registry.ts";
import { Dispatcher } from "../src/actions/dispatcher.ts";
import { ActionDeclarationError } from "../src/actions/registry.ts";
import { ACTIONS_DIR, register, startAccounts, type Accounts } from "./support/accounts.ts";
import { captureLogs } from "./support/logs.ts";
import { providersWith } from "./support/providers.ts";
import { runs } from "./fixtures/guard-actions/Whoami.ts";

const FIXTURES = "tests/fixtures/guard-actions";

describe("the guard in the published schema", () => {
  test("a guarded action publishes a required jwt field first; an unguarded one none", async () => {
    const { log } = captureLogs();
    const registry = await loadActions({ dir: FIXTURES, log });
    const whoami = registry.published.Whoami!;
    assert.deepEqual(Object.keys(whoami.fields), ["jwt", "note"]);
    assert.deepEqual(whoami.required, ["jwt"]);
    assert.deepEqual(whoami.fields.jwt, {
      type: "string",
      minLength: 1,
      maxLength: 16384,
      description: "Your token",
    });
    assert.deepEqual(registry.published.Anyone, { description: "Open to all", fields: {}, required: [] });
    assert.deepEqual(registry.get("Whoami")!.middleware.map((m) => m.name), ["signedIn"]);
    assert.deepEqual(registry.get("Anyone")!.middleware, []);
  });

  test("the account actions: Show, Edit and Delete are guarded; Verify and Jwks are not", async () => {
    const { log } = captureLogs();
    const registry = await loadActions({ dir: ACTIONS_DIR, log });
    const fields = (name: string) => Object.keys(registry.published[name]!.fields);
    assert.deepEqual(fields("Show"), ["jwt"]);
    assert.deepEqual(fields("Edit"), ["jwt", "username", "name", "email", "phone_number", "password", "current_password"]);
    assert.deepEqual(registry.published.Edit!.required, ["jwt"]);
    assert.deepEqual(fields("Delete"), ["jwt", "password"]);
    assert.deepEqual(registry.published.Delete!.required, ["jwt", "password"]);
    assert.deepEqual(fields("Verify"), ["jwt"]);
    assert.deepEqual(fields("Jwks"), []);
    assert.deepEqual(
      ["Delete", "Edit", "Jwks", "Show", "Verify"].map((n) => registry.get(n)!.middleware.map((m) => m.name)),
      [["signedIn"], ["signedIn"], [], ["signedIn"], []],
    );
  });

  test("a guarded action that declares its own jwt field stops a production start-up, and is skipped in dev", async () => {
    const { log, lines } = captureLogs();
    await assert.rejects(loadActions({ dir: "tests/fixtures/guard-bad-actions", log, strict: true }), (error: unknown) => {
      assert.ok(error instanceof ActionDeclarationError);
      assert.match(error.message, /^OwnJwt: its schema declares "jwt", which middleware signedIn takes: leave it to the middleware/);
      return true;
    });
    const registry = await loadActions({ dir: "tests/fixtures/guard-bad-actions", log });
    assert.deepEqual(registry.names, []);
    assert.ok(lines().some((l) => l.class === "OwnJwt" && /leave it to the middleware/.test(String(l.msg))));
  });
});

describe("the guard at dispatch", () => {
  let accounts: Accounts;
  let dispatcher: Dispatcher;
  before(async () => {
    accounts = await startAccounts();
    dispatcher = new Dispatcher({
      registry: await loadActions({ dir: FIXTURES, log: accounts.log }),
      providers: providersWith(accounts.services),
      log: accounts.log,
      maxConcurrency: 8,
      queueLimit: 8,
      actionTimeoutMs: 10_000,
    });
  });
  after(() => accounts?.close());

  const call = (action: string, fields: unknown) => dispatcher.dispatch({ action, fields, response_ref: "guard" });

  test("a valid token: run gets ctx.user and ctx.claims, and fields without jwt", async () => {
    const token = await register(accounts, { username: "Guarded" });
    const claims = jwt.decode(token, { json: true })!;
    runs.length = 0;
    const answer = await call("Whoami", { jwt: token, note: "hi" });
    assert.deepEqual([answer.status_code, answer.message], [200, "You"]);
    assert.deepEqual(answer.fields, { id: Number(claims.sub), username: "Guarded", jti: claims.jti, fields: { note: "hi" } });
    assert.deepEqual(runs, [{ note: "hi" }]);
    const open = await call("Anyone", {});
    assert.deepEqual(open.fields, { signed_in: false });
  });

  test("a bad, revoked or foreign token: 401 Invalid token: <reason>, and run never starts", async () => {
    const revoked = await register(accounts, { username: "guard-revoked" });
    await accounts.dispatch("Logout", { jwt: revoked });
    const deleted = await register(accounts, { username: "guard-deleted" });
    await accounts.dispatch("Delete", { jwt: deleted, password: "password123" });
    const edited = await register(accounts, { username: "guard-edited" });
    await accounts.dispatch("Edit", { jwt: edited, password: "a-new-password", current_password: "password123" });
    runs.length = 0;
    for (const [token, reason] of [
      ["garbage", "malformed"],
      [revoked, "revoked"],
      [deleted, "unknown account"],
      [edited, "revoked"],
      [jwt.sign({ sub: "1" }, "another-secret-another-secret-another-secret"), "invalid signature"],
    ]) {
      const answer = await call("Whoami", { jwt: token });
      assert.deepEqual([answer.status_code, answer.status, answer.message, answer.fields], [401, "error", `Invalid token: ${reason}`, null]);
    }
    assert.deepEqual(runs, [], "run was never called");
  });

  test("no jwt, a wrong type, or an unknown field: 400 before the guard", async () => {
    const missing = await call("Whoami", {});
    assert.equal(missing.status_code, 400);
    assert.equal(missing.message, "Invalid fields: jwt: is required");
    assert.equal((await call("Whoami", { jwt: 42 })).status_code, 400);
    assert.equal((await call("Whoami", { jwt: "x", other: 1 })).message, "Invalid fields: other: is not a known field");
  });
});

describe("the README's guard example", () => {
  test("is a working action: 200 for a signed-in user, 401 otherwise, jwt in its published fields", async () => {
    const readme = readFileSync("README.md", "utf8");
    const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.includes("use: [signedIn]"));
    assert.ok(example, "the README shows a guarded action");
    // Inside the repository, so that "zod" resolves from node_modules; removed at the end.
    const dir = mkdtempSync(path.join("tests", "fixtures", ".readme-guard-"));
    const account = pathToFileURL(path.resolve("account")).href;
    writeFileSync(path.join(dir, "Welcome.ts"), example.replaceAll('"../account/', `"${account}/`));
    const accounts = await startAccounts();
    try {
      const registry = await loadActions({ dir, log: accounts.log });
      assert.deepEqual(registry.names, ["Welcome"]);
      assert.deepEqual(registry.published.Welcome!.required, ["jwt"]);
      const dispatcher = new Dispatcher({ registry, providers: providersWith(accounts.services), log: accounts.log, maxConcurrency: 1, queueLimit: 1, actionTimeoutMs: 5000 });
      const token = await register(accounts, { name: "Ada", username: "readme-guard" });
      const answer = await dispatcher.dispatch({ action: "Welcome", fields: { jwt: token }, response_ref: "readme" });
      assert.deepEqual([answer.status_code, answer.fields], [200, { greeting: "Welcome back, Ada!" }]);
      const refused = await dispatcher.dispatch({ action: "Welcome", fields: { jwt: "nope" }, response_ref: "readme" });
      assert.deepEqual([refused.status_code, refused.message], [401, "Invalid token: malformed"]);
    } finally {
      await accounts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
