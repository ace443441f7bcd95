import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode, encodedFrames } from "../src/plugboard/frames.ts";
import { reconnectBackoff, rejoinBackoff } from "../src/plugboard/backoff.ts";

test("V2 frames are arrays [join_ref, ref, topic, event, payload]", () => {
  const text = encode({ join_ref: "1", ref: "abc", topic: "service", event: "response", payload: { a: 1 } });
  assert.equal(text, '["1","abc","service","response",{"a":1}]');
  assert.deepEqual(decode(text), { ok: true, message: { join_ref: "1", ref: "abc", topic: "service", event: "response", payload: { a: 1 } } });
});

test("V1 frames are objects; join_ref only when set", () => {
  const text = encode({ join_ref: null, ref: "2", topic: "phoenix", event: "heartbeat", payload: {} }, "v1");
  assert.deepEqual(JSON.parse(text), { topic: "phoenix", event: "heartbeat", payload: {}, ref: "2" });
  const decoded = decode('{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":"3"}', "v1");
  assert.deepEqual(decoded, { ok: true, message: { join_ref: "3", ref: null, topic: "t", event: "e", payload: {} } });
});

test("malformed frames decode to an error, never throw", () => {
  for (const text of ["", "not json", "{}", "[]", "[1,2,3,4,5]", '[null,null,"t",5,{}]', '[null,null,"","e",{}]', "null", '"str"', '[{},null,"t","e",{}]']) {
    const result = decode(text);
    assert.equal(result.ok, false, text);
  }
  assert.equal(decode("[1]", "v1").ok, false);
});

test("reconnect backoff grows from ~10 ms to 5 s with jitter; after a 403 it grows to 30 s", () => {
  const max = () => 1; // the top of the jitter range
  const min = () => 0;
  assert.equal(reconnectBackoff(1, false, max), 10);
  assert.equal(reconnectBackoff(1, false, min), 5);
  assert.equal(reconnectBackoff(50, false, max), 5000);
  assert.equal(reconnectBackoff(1, true, max), 1000);
  assert.equal(reconnectBackoff(50, true, max), 30000);
  assert.ok(reconnectBackoff(5, true, max) > reconnectBackoff(5, false, max));
  for (let tries = 1; tries < 30; tries++) assert.ok(reconnectBackoff(tries + 1, false, max) >= reconnectBackoff(tries, false, max));
  assert.equal(rejoinBackoff(100, max), 5000);
});

test("encodedFrames: the same text encode() makes for a payload encoded already, whatever the ref holds", () => {
  const payload = { status: "success", status_code: 200, message: "ok \u2028 \"quoted\"", fields: { a: [1, null] } };
  for (const joinRef of ["3", null]) {
    const frame = encodedFrames(joinRef, "service", "response");
    for (const ref of ["r1", "with \"quotes\" and \\ and \n", "\u{1F600}", ""]) {
      const text = frame(ref, JSON.stringify(payload));
      assert.equal(text, encode({ join_ref: joinRef, ref, topic: "service", event: "response", payload }, "v2"));
      const decoded = decode(text, "v2");
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.message, { join_ref: joinRef, ref, topic: "service", event: "response", payload });
    }
  }
});
