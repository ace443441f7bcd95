/** vera-service/testing: actions in-process, from classes or a folder, with what they need started. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { Action, ok, type Context, type Fields } from "vera-service";
import { startTestKit } from "vera-service/testing";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, until } from "./support/consumer.ts";
import { accounts } from "../account/index.ts";
import { testUser } from "../account/testing.ts";
import { Greet } from "../examples/Greet.ts";
import { Welcome } from "../examples/Welcome.ts";
import { counter } from "./fixtures/framework-actions/index.ts";
import { createTestDatabase } from "./support/database.ts";

test("a folder of actions: validated, behind their middleware, providers started, output schemas checked", async () => {
  const kit = await startTestKit({ actions: "tests/fixtures/framework-actions" });
  try {
    assert.equal((await kit.call("Counted")).status_code, 200);
    assert.equal(kit.get(counter).next(), 2, "the provider the action used");
    assert.equal((await kit.call("Nested", { address: { city: "Oslo", zip: 1 } })).status_code, 400);
    assert.equal((await kit.call("Shaped", { wrong: true })).status_code, 500, "output schemas are checked");
    assert.equal((await kit.call("Audited", { n: 1 })).message, "Invalid fields: team: is required");
  } finally {
    await kit.close();
  }
});

test("actions that need no account services start none: no database", async () => {
  const kit = await startTestKit({ actions: [Greet] });
  try {
    assert.deepEqual((await kit.call("Greet", { name: "Ada" })).fields, { greeting: "Hello, Ada!" });
    assert.throws(() => kit.get(accounts), /provider "accounts" is not started/);
  } finally {
    await kit.close();
  }
});

test("a guarded action with a signed-in user, on a real PostgreSQL; a deleted account's token is refused", async () => {
  // The suite's PostgreSQL here (the kit's default is an embedded one, as examples/Welcome.test.ts uses).
  const database = await createTestDatabase({ migrate: false });
  const kit = await startTestKit({ actions: [Welcome], env: { DATABASE_URL: database.url } });
  try {
    const { user, jwt } = await testUser(kit, { name: "Grace" });
    assert.deepEqual((await kit.call("Welcome", { jwt })).fields, { greeting: "Welcome back, Grace!" });
    await kit.get(accounts).users.softDelete(user.id, new Date());
    const refused = await kit.call("Welcome", { jwt });
    assert.deepEqual([refused.status_code, refused.message], [401, "Invalid token: unknown account"]);
  } finally {
    await kit.close();
    await database.drop();
  }
});

test("ctx.call in the kit: with PLUGBOARD_HTTP_URL and PLUGBOARD_API_TOKEN it reaches a service on a dev plugboard; without, the action fails with 500", async () => {
  class AskEcho extends Action.with({ schema: z.object({ service_id: z.string() }) }) {
    async run({ service_id }: Fields<typeof AskEcho>, ctx: Context) {
      const answer = await ctx.call(service_id, "Echo", { text: "from the kit" });
      return answer.ok ? ok("asked", answer.fields) : ok("failed", { reason: answer.reason });
    }
  }
  const board = await DevPlugboard.start();
  const callee = board.addService({ name: "echoer" });
  const consumer = await startConsumer({ url: board.socketUrl, token: callee.token });
  try {
    await until(() => board.services()[1]!.joinedConsumers === 1);
    const kit = await startTestKit({ actions: [AskEcho], env: { PLUGBOARD_HTTP_URL: board.url, PLUGBOARD_API_TOKEN: board.accountToken } });
    try {
      const answer = await kit.call("AskEcho", { service_id: callee.id });
      assert.deepEqual([answer.status_code, answer.fields], [200, { text: "from the kit" }]);
    } finally {
      await kit.close();
    }
    const unconfigured = await startTestKit({ actions: [AskEcho] });
    try {
      assert.equal((await unconfigured.call("AskEcho", { service_id: callee.id })).status_code, 500);
    } finally {
      await unconfigured.close();
    }
  } finally {
    await consumer.stop();
    await board.stop();
  }
});
