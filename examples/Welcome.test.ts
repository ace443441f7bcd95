import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startTestKit } from "vera-service/testing";
import { testUser } from "vera-service/account";
import { Welcome } from "./Welcome.ts";

const kit = await startTestKit({ actions: [Welcome] });
after(() => kit.close());

test("Welcome greets a signed-in user by name", async () => {
  const { jwt } = await testUser(kit, { name: "Ada" });
  const answer = await kit.call("Welcome", { jwt, punctuation: "." });
  assert.equal(answer.status_code, 200);
  assert.deepEqual(answer.fields, { greeting: "Welcome back, Ada." });
});

test("Welcome refuses a caller without a valid token", async () => {
  const answer = await kit.call("Welcome", { jwt: "not-a-token" });
  assert.equal(answer.status_code, 401);
});
