import { test } from "node:test";
import assert from "node:assert/strict";
import { Answers, RECENT_BYTES, RECENT_LIMIT, RESEND_MIN_AGE_MS, RESEND_WINDOW_MS } from "../src/plugboard/answers.ts";
import type { AnswerPayload } from "../src/actions/responses.ts";

function setup() {
  let now = 1_000_000;
  let joined = true;
  const sent: string[] = [];
  const answers = new Answers({ canSend: () => joined, send: (ref) => sent.push(ref) }, () => now);
  return {
    answers,
    sent,
    advance: (ms: number) => (now += ms),
    now: () => now,
    setJoined: (value: boolean) => (joined = value),
  };
}

const answer: AnswerPayload = { status: "success", status_code: 200, message: "ok", fields: null };

test("answers go out at once while joined", () => {
  const { answers, sent, now } = setup();
  assert.equal(answers.begin("a"), true);
  answers.deliver("a", answer, now());
  assert.deepEqual(sent, ["a"]);
});

test("answers finished while unjoined are held, then sent after the rejoin if younger than 30 s", () => {
  const { answers, sent, now, advance, setJoined } = setup();
  const t0 = now();
  answers.begin("old");
  answers.begin("young");
  setJoined(false);
  answers.deliver("old", answer, t0);
  advance(10_000);
  answers.deliver("young", answer, now());
  assert.deepEqual(sent, []);
  assert.equal(answers.heldCount, 2);
  advance(21_000); // "old" is now 31 s old, "young" 21 s
  setJoined(true);
  answers.flushAfterRejoin(undefined);
  assert.deepEqual(sent, ["young"]);
  assert.equal(answers.heldCount, 0);
  assert.equal(answers.stats.expired, 1);
  assert.equal(answers.stats.held, 1);
});

test("answers sent shortly before the connection was last heard from are resent after the rejoin", () => {
  const { answers, sent, now, advance, setJoined } = setup();
  for (const ref of ["early", "late1", "late2"]) answers.begin(ref);
  answers.deliver("early", answer, now());
  advance(RESEND_WINDOW_MS + 1_000);
  answers.deliver("late1", answer, now());
  advance(500);
  const lastHeard = now();
  answers.deliver("late2", answer, now());
  setJoined(false);
  advance(2_000);
  setJoined(true);
  answers.flushAfterRejoin(lastHeard);
  assert.deepEqual(sent, ["early", "late1", "late2", "late1", "late2"]);
  assert.equal(answers.stats.resent, 2);
});

test("an answer resent after one rejoin is resent once after the next, and remembered as sent last", () => {
  const { answers, sent, now, advance, setJoined } = setup();
  for (const ref of ["a", "b"]) answers.begin(ref);
  answers.deliver("a", answer, now());
  answers.deliver("b", answer, now());
  setJoined(false);
  advance(RESEND_MIN_AGE_MS);
  setJoined(true);
  answers.flushAfterRejoin(now()); // both resent: their first records go stale
  advance(RESEND_MIN_AGE_MS);
  setJoined(false);
  setJoined(true);
  answers.flushAfterRejoin(now());
  assert.deepEqual(sent, ["a", "b", "a", "b", "a", "b"]);
  assert.equal(answers.stats.resent, 4);
  assert.equal(answers.begin("a"), false, "still remembered");
});

test("a request is never run twice: duplicates of running or answered refs are not started", () => {
  const { answers, sent, now } = setup();
  assert.equal(answers.begin("r"), true);
  assert.equal(answers.begin("r"), false); // still running
  answers.deliver("r", answer, now());
  assert.equal(answers.begin("r"), false); // answered: the answer is sent again instead
  assert.deepEqual(sent, ["r", "r"]);
  assert.equal(answers.stats.duplicates, 2);
});

test("memory stays bounded by size too: past RECENT_LIMIT answers, the oldest are forgotten", () => {
  const { answers, now } = setup();
  for (let i = 0; i <= RECENT_LIMIT; i++) {
    answers.begin(`s${i}`);
    answers.deliver(`s${i}`, answer, now()); // all within the same instant: only the cap applies
  }
  assert.equal(answers.begin("s0"), true, "the oldest was forgotten");
  assert.equal(answers.begin(`s${RECENT_LIMIT}`), false, "the newest is remembered");
});

test("past the cap, for many times the cap, exactly the last RECENT_LIMIT answers are remembered", () => {
  const { answers, now } = setup();
  const total = 3 * RECENT_LIMIT + 17;
  for (let i = 0; i < total; i++) {
    answers.begin(`s${i}`);
    answers.deliver(`s${i}`, answer, now());
  }
  assert.equal(answers.begin(`s${total - RECENT_LIMIT - 1}`), true, "just past the cap: forgotten");
  assert.equal(answers.begin(`s${total - RECENT_LIMIT}`), false, "the oldest within the cap: remembered");
});

test("a request whose answer is held (unjoined) is not run again either", () => {
  const { answers, sent, now, setJoined } = setup();
  setJoined(false);
  answers.begin("h");
  answers.deliver("h", answer, now());
  assert.equal(answers.begin("h"), false);
  assert.deepEqual(sent, []);
});

test("memory stays bounded: old answers are forgotten", () => {
  const { answers, now, advance } = setup();
  for (let i = 0; i < 1000; i++) {
    answers.begin(`r${i}`);
    answers.deliver(`r${i}`, answer, now());
    advance(100);
  }
  // 100 s of traffic: only the last 30 s are remembered, so an old ref is new again.
  assert.equal(answers.begin("r0"), true);
  assert.equal(answers.begin("r999"), false);
});

test("a frame the plugboard refused (1009): answers that large go out as a 500; a second refusal below it halves the threshold", () => {
  let now = 1_000_000;
  const texts: string[] = [];
  const answers = new Answers({ canSend: () => true, send: (_ref, text) => texts.push(text) }, () => now, { format: "text" });
  const sized = (bytes: number): AnswerPayload => ({ status: "success", status_code: 200, message: "x".repeat(bytes), fields: null });
  const deliver = (ref: string, bytes: number) => {
    answers.begin(ref);
    answers.deliver(ref, sized(bytes), now);
    return JSON.parse(texts.at(-1)!) as { status_code: number };
  };
  deliver("big", 100_000);
  const refused = answers.frameRefused(now);
  assert.ok(refused! > 100_000);
  assert.equal(deliver("again", 100_000).status_code, 500, "as large: replaced");
  assert.equal(deliver("smaller", 60_000).status_code, 200, "smaller: as it is");
  now += 1;
  // The 60 kB answer closed the socket too: the limit is lower still, so the threshold halves.
  answers.frameRefused(now);
  assert.equal(deliver("half", Math.floor(refused! / 2) + 100).status_code, 500);
  assert.equal(deliver("small", 1_000).status_code, 200);
  assert.equal(answers.stats.oversized, 2);
});

test("answers past RECENT_BYTES of text: a duplicate of one whose text is gone is still never run again, and gets nothing", () => {
  const { answers, sent, now } = setup();
  const big: AnswerPayload = { status: "success", status_code: 200, message: "x".repeat(RECENT_BYTES / 4), fields: null };
  for (let i = 0; i < 6; i++) {
    answers.begin(`big${i}`);
    answers.deliver(`big${i}`, big, now());
  }
  assert.equal(sent.length, 6);
  assert.equal(answers.begin("big0"), false, "its text is gone, but it was answered: not run again");
  assert.equal(answers.begin("big5"), false);
  assert.deepEqual(sent.slice(6), ["big5"], "only the kept one is answered again");
  assert.equal(answers.stats.duplicates, 2);
});

/** An answers on the real clock with a hold, its sends awaited as they happen. */
function heldOutbox(holdMs: number) {
  let joined = true;
  const sent: Array<{ ref: string; at: number }> = [];
  let notify: (() => void) | undefined;
  const answers = new Answers(
    {
      canSend: () => joined,
      send: (ref) => {
        sent.push({ ref, at: Date.now() });
        notify?.();
      },
    },
    Date.now,
    { holdMs },
  );
  const sentCount = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (sent.length >= n) resolve();
      };
      notify = check;
      check();
    });
  return { answers, sent, sentCount, setJoined: (value: boolean) => (joined = value) };
}

test("ANSWER_HOLD_MS: an answer ready sooner than the hold after its request arrived leaves at that moment, not before; a slower one at once", async () => {
  const { answers, sent, sentCount } = heldOutbox(30);
  const arrived = Date.now();
  for (const ref of ["fast-1", "fast-2", "slow"]) answers.begin(ref);
  answers.deliver("fast-1", answer, arrived);
  answers.deliver("fast-2", answer, arrived);
  assert.equal(sent.length, 0, "held back");
  assert.equal(answers.earlyCount, 2);
  // An answer whose request arrived longer ago than the hold goes at once.
  answers.deliver("slow", answer, arrived - 31);
  assert.deepEqual(sent.map((s) => s.ref), ["slow"]);
  await sentCount(3);
  assert.deepEqual(sent.map((s) => s.ref), ["slow", "fast-1", "fast-2"], "one timer sent both, in order");
  assert.ok(sent[1]!.at - arrived >= 30 - 1, `sent ${sent[1]!.at - arrived} ms after arrival`);
  assert.equal(answers.earlyCount, 0);
});

test("ANSWER_HOLD_MS: a duplicate of a held-back request is not run again; a lost channel holds it for the rejoin; a stop sends it at once", async () => {
  const { answers, sent, setJoined } = heldOutbox(10_000);
  answers.begin("a");
  answers.deliver("a", answer, Date.now());
  assert.equal(answers.begin("a"), false, "a duplicate of a request waiting out its hold");
  let idle = false;
  void answers.whenNothingRunning().then(() => (idle = true));
  await Promise.resolve();
  assert.equal(idle, false, "not idle while an answer waits out its hold");
  setJoined(false);
  answers.sendEarlyAnswersNow();
  assert.equal(sent.length, 0, "not joined: held");
  assert.equal(answers.heldCount, 1);
  setJoined(true);
  answers.flushAfterRejoin(undefined);
  assert.deepEqual(sent.map((s) => s.ref), ["a"]);
  await Promise.resolve();
  assert.equal(idle, true);
});

test("a copy resent after a rejoin leaves no sooner than RESEND_MIN_AGE_MS after its original: never while its caller may still be registered", async () => {
  const { answers, sent, sentCount, setJoined } = heldOutbox(0);
  answers.begin("a");
  answers.deliver("a", answer, Date.now());
  const original = sent[0]!.at;
  setJoined(false);
  setJoined(true);
  answers.flushAfterRejoin(Date.now()); // the socket was lost right after: "a" may have died with it
  assert.equal(sent.length, 1, "not at once");
  await sentCount(2);
  assert.equal(sent[1]!.ref, "a");
  assert.ok(sent[1]!.at - original >= RESEND_MIN_AGE_MS - 1, `resent ${sent[1]!.at - original} ms after the original`);
  assert.equal(answers.stats.resent, 1);
});

