/**
 * The dev loop: `npm run dev` watches the actions folder. Adding, editing or removing an action
 * file publishes the new set within 3 s; a request running meanwhile finishes and is answered;
 * a file that breaks logs why and its last good version keeps serving. Its subscribers folder is
 * watched too: an edited subscriber handles the next event. A real `npm run dev`
 * process on an actions folder of its own (inside the repository, so that `zod` and
 * `vera-service` resolve as they do for actions/).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { serviceDatabaseEnv, startNpmDev } from "./support/process.ts";

const dir = mkdtempSync(path.join("tests", "fixtures", ".dev-loop-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const action = (name: string, description: string, body = `return ok(${JSON.stringify(name)}, { description: ${JSON.stringify(description)} });`) => `
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { Action, ok, type Fields } from "vera-service";

export class ${name} extends Action.with({ description: ${JSON.stringify(description)}, schema: z.object({ ms: z.number().int().default(0) }) }) {
  async run({ ms }: Fields<typeof ${name}>) {
    await sleep(ms);
    ${body}
  }
}
`;

async function post(url: string, body: unknown) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { fields?: { description?: string } } };
}

test("npm run dev republishes added, edited and removed actions in place, finishing what runs and keeping a broken file's last good version", async (t) => {
  writeFileSync(path.join(dir, "Hello.ts"), action("Hello", "first"));
  const dev = startNpmDev({ ACTIONS_DIR: dir, DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-devloop-")) });
  try {
    await dev.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
    const url = String(dev.lines().find((l) => typeof l.explorer === "string")!.explorer);
    assert.deepEqual((await post(url, { action: "Hello", fields: {} })).body.fields, { description: "first" });
    const reloads = () => dev.lines().filter((l) => l.msg === "actions reloaded and published again").length;

    // Added: published within 3 s of the write.
    let written = Date.now();
    writeFileSync(path.join(dir, "Added.ts"), action("Added", "new"));
    await dev.waitForLine((l) => l.msg === "actions reloaded and published again" && (l.actions as string[]).includes("Added"), 10_000);
    let answer = await post(url, { action: "Added", fields: {} });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const addedAfterMs = Date.now() - written;
    assert.ok(addedAfterMs < 3_000, `served ${addedAfterMs} ms after the file was written`);
    t.diagnostic(`an added action answered ${addedAfterMs} ms after its file was written`);

    // Edited while a request runs: that request is answered by the version it started on.
    const running = post(url, { action: "Hello", fields: { ms: 1_500 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = reloads();
    written = Date.now();
    writeFileSync(path.join(dir, "Hello.ts"), action("Hello", "second"));
    assert.deepEqual((await running).body.fields, { description: "first" }, "the running request finished and was answered");
    await dev.waitForLine(() => reloads() > before, 10_000);
    answer = await post(url, { action: "Hello", fields: {} });
    assert.deepEqual(answer.body.fields, { description: "second" });
    assert.ok(Date.now() - written < 3_000 + 1_500, "republished once the running request was answered");

    // Broken: the error is logged, and the last good Hello keeps serving.
    writeFileSync(path.join(dir, "Hello.ts"), "export class Hello extends {{{ not TypeScript");
    await dev.waitForLine((l) => l.msg === "action file failed to import: its last good version keeps serving", 10_000);
    answer = await post(url, { action: "Hello", fields: {} });
    assert.deepEqual([answer.status, answer.body.fields], [200, { description: "second" }]);

    // Removed: no longer published.
    const beforeRemoval = reloads();
    unlinkSync(path.join(dir, "Added.ts"));
    await dev.waitForLine(() => reloads() > beforeRemoval, 10_000);
    const gone = dev.lines().filter((l) => l.msg === "actions reloaded and published again").at(-1)!;
    assert.deepEqual(gone.actions, ["Hello"]);
    assert.notEqual((await post(url, { action: "Added", fields: {} })).status, 200);
    assert.equal(dev.lines().filter((l) => l.level === 50 || l.level === 60).length, 0, dev.output().slice(-2000));
  } finally {
    dev.kill();
    await dev.exited;
  }
});

const greeter = (says: string) => `
import { z } from "zod";
import { subscriber } from "vera-service";

export const welcome = subscriber({
  name: "welcome",
  events: ["user.registered"],
  schema: z.object({}).passthrough(),
  handle(event, ctx) {
    ctx.log.info({ subject: event.subject, says: ${JSON.stringify(says)} }, "welcomed");
  },
});
`;

test("npm run dev reloads an edited subscriber: the next event is handled by the new version", async () => {
  const app = mkdtempSync(path.join("tests", "fixtures", ".dev-loop-app-"));
  after(() => rmSync(app, { recursive: true, force: true }));
  const actions = path.join(app, "actions");
  const subscribers = path.join(app, "subscribers");
  for (const folder of [actions, subscribers]) mkdirSync(folder);
  writeFileSync(path.join(actions, "account.ts"), `export { Register } from "vera-service/account";\n`);
  writeFileSync(path.join(subscribers, "welcome.ts"), greeter("hello"));
  const dev = startNpmDev({ ...(await serviceDatabaseEnv()), ACTIONS_DIR: actions, SUBSCRIBERS_DIR: subscribers, BCRYPT_COST: "4", DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-devloop-")) });
  try {
    await dev.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
    const url = String(dev.lines().find((l) => typeof l.explorer === "string")!.explorer);
    const register = async (email: string) => {
      const answer = await post(url, { action: "Register", fields: { name: "Ada", email, password: "a long enough passphrase" } });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    };
    await register("first@example.com");
    await dev.waitForLine((l) => l.msg === "welcomed" && l.says === "hello", 20_000);

    writeFileSync(path.join(subscribers, "welcome.ts"), greeter("hello again"));
    await dev.waitForLine((l) => l.msg === "subscribers reloaded", 10_000);
    await register("second@example.com");
    await dev.waitForLine((l) => l.msg === "welcomed" && l.says === "hello again", 20_000);
    assert.equal(dev.lines().filter((l) => l.msg === "welcomed").length, 2, "each event handled once");
    assert.equal(dev.lines().filter((l) => l.level === 50 || l.level === 60).length, 0, dev.output().slice(-2000));
  } finally {
    dev.kill();
    await dev.exited;
  }
});
