import { test } from "node:test";
import assert from "node:assert/strict";
import { SentAnswers } from "../src/plugboard/sent-answers.ts";

const T0 = 1_000_000;

test("answers are kept by ref, texts intact whatever their characters", () => {
  const sent = new SentAnswers(10, 1024, 30_000);
  const texts = ['{"a":1}', '{"message":"Grüße, 世界 \u{1F600}"}', ""];
  texts.forEach((text, i) => sent.record(`r${i}`, text, T0, T0 + i));
  texts.forEach((text, i) => assert.equal(sent.text(`r${i}`), text));
  assert.equal(sent.text("unknown"), undefined);
  assert.equal(sent.has("unknown"), false);
});

test("at most `limit` answers: the oldest go first", () => {
  const sent = new SentAnswers(3, 1024, 30_000);
  for (let i = 0; i < 5; i++) sent.record(`r${i}`, `t${i}`, T0, T0);
  assert.deepEqual(["r0", "r1", "r2", "r3", "r4"].map((r) => sent.has(r)), [false, false, true, true, true]);
  assert.deepEqual(["r2", "r3", "r4"].map((r) => sent.text(r)), ["t2", "t3", "t4"]);
});

test("at most `ringBytes` of text: an overwritten text is gone, its ref still known; a text larger than the ring is never kept", () => {
  const sent = new SentAnswers(100, 64, 30_000);
  sent.record("a", "x".repeat(40), T0, T0);
  sent.record("b", "y".repeat(40), T0, T0); // does not fit after "a": starts the ring again, over "a"
  assert.equal(sent.has("a"), true);
  assert.equal(sent.text("a"), undefined);
  assert.equal(sent.text("b"), "y".repeat(40));
  sent.record("huge", "z".repeat(65), T0, T0);
  assert.equal(sent.has("huge"), true);
  assert.equal(sent.text("huge"), undefined);
  assert.equal(sent.text("b"), "y".repeat(40), "a text too large for the ring overwrites nothing");
  assert.equal(sent.largestSince(T0), 65, "its size is still known (a refused frame is found by it)");
});

test("answers older than keepMs are forgotten as new ones come", () => {
  const sent = new SentAnswers(100, 1024, 30_000);
  sent.record("old", "o", T0, T0);
  sent.record("young", "y", T0 + 20_000, T0 + 20_000);
  sent.record("new", "n", T0 + 31_000, T0 + 31_000);
  assert.equal(sent.has("old"), false);
  assert.equal(sent.has("young"), true);
});

test("an answer sent again counts once, at its latest sending; its earlier record is stale", () => {
  const sent = new SentAnswers(100, 1024, 30_000);
  sent.record("a", "A", T0, T0);
  sent.record("b", "B", T0, T0 + 10);
  sent.record("a", "A", T0, T0 + 20);
  assert.deepEqual(sent.since(T0, T0 - 30_000).map((s) => s.ref), ["b", "a"]);
  assert.deepEqual(sent.since(T0 + 15, T0 - 30_000).map((s) => s.ref), ["a"]);
  // The stale record leaving (by the limit) does not forget "a".
  const small = new SentAnswers(2, 1024, 30_000);
  small.record("a", "A", T0, T0);
  small.record("a", "A", T0, T0 + 1);
  small.record("b", "B", T0, T0 + 2);
  assert.equal(small.text("a"), "A");
  assert.equal(small.text("b"), "B");
});

test("since() leaves out answers to requests the plugboard has given up on", () => {
  const sent = new SentAnswers(100, 1024, 30_000);
  sent.record("early", "e", T0, T0 + 29_000);
  sent.record("late", "l", T0 + 10_000, T0 + 29_500);
  assert.deepEqual(sent.since(T0 + 28_000, T0 + 30_500 - 30_000).map((s) => s.ref), ["late"]);
});

test("forgotten answers stay forgotten through the index's sweeps, over many times the limit", () => {
  const sent = new SentAnswers(5, 1024, 30_000);
  for (let i = 0; i < 1000; i++) sent.record(`r${i}`, `t${i}`, T0, T0);
  for (let i = 0; i < 995; i++) assert.equal(sent.has(`r${i}`), false, `r${i}`);
  for (let i = 995; i < 1000; i++) assert.equal(sent.text(`r${i}`), `t${i}`);
  // A ref whose slot was reused by a later answer is not mistaken for it.
  assert.equal(sent.text("r990"), undefined);
});
