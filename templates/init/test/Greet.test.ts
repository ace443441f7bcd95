import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startTestKit } from "vera-service/testing";
import { Greet } from "../actions/Greet.ts";

// The actions run in-process as the service runs them: validated, with their providers started.
const kit = await startTestKit({ actions: [Greet] });
after(() => kit.close());

test("Greet says hello by name", async () => {
  const answer = await kit.call("Greet", { name: "Ada" });
  assert.equal(answer.status_code, 200);
  assert.deepEqual(answer.fields, { greeting: "Hello, Ada!" });
});

test("Greet refuses a field it does not know", async () => {
  const answer = await kit.call("Greet", { name: "Ada", shout: true });
  assert.equal(answer.status_code, 400);
});
