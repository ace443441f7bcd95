/**
 * Answers handed over between replicas on a real PostgreSQL (src/plugboard/handover.ts): every
 * answer is sent by exactly one replica, takers or giver, never two (a second copy could reach
 * another caller, docs/protocol.md); a replica that cannot send takes nothing.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { Handover, type HandedAnswer } from "../src/plugboard/handover.ts";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { captureLogs } from "./support/logs.ts";
import { until } from "./support/consumer.ts";

let database: FreshDatabase;
const handovers: Handover[] = [];
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  for (const h of handovers) await h.stopTaking();
  await database?.drop();
});

const answers = (prefix: string, n: number): HandedAnswer[] => Array.from({ length: n }, (_, i) => ({ ref: `${prefix}-${i}`, text: `{"n":${i}}` }));

function replica(canSend = () => true) {
  const sent: string[] = [];
  const handover = new Handover(database.db, database.url, captureLogs("silent").log);
  handovers.push(handover);
  return { handover, sent, taker: { canSend, send: (a: HandedAnswer) => void sent.push(a.ref) } };
}

test("answers given are taken by the joined replicas, each by exactly one", async () => {
  const [a, b] = [replica(), replica()];
  await a.handover.startTaking(a.taker);
  await b.handover.startTaking(b.taker);
  const giver = replica();
  const given = answers("both", 300);
  assert.deepEqual(await giver.handover.give(given, 5_000), [], "all taken");
  const sent = [...a.sent, ...b.sent].sort();
  assert.deepEqual(sent, given.map((g) => g.ref).sort(), "each exactly once");
  await a.handover.stopTaking();
  await b.handover.stopTaking();
});

test("with nobody able to send, the giver gets every answer back after the wait, and none is sent twice later", async () => {
  const busy = replica(() => false);
  await busy.handover.startTaking(busy.taker);
  const giver = replica();
  const given = answers("nobody", 5);
  const back = await giver.handover.give(given, 200);
  assert.deepEqual(back.map((a) => a.ref), given.map((a) => a.ref));
  // The rows are gone: a replica that can send later finds nothing of them.
  const late = replica();
  await late.handover.startTaking(late.taker);
  await until(async () => (await database.db.selectFrom("handed_answers" as never).selectAll().execute()).length === 0);
  assert.deepEqual(late.sent, []);
  await busy.handover.stopTaking();
  await late.handover.stopTaking();
});

test("an answer older than the plugboard's 30 s is dropped, never sent; a fresh one beside it is taken", async () => {
  await sql`insert into handed_answers (ref, answer, handed_at) values ('stale-1', '{}', clock_timestamp() - interval '31 seconds'), ('fresh-1', '{}', clock_timestamp())`.execute(database.db);
  const taker = replica();
  await taker.handover.startTaking(taker.taker);
  await until(async () => (await database.db.selectFrom("handed_answers" as never).selectAll().execute()).length === 0);
  assert.deepEqual(taker.sent, ["fresh-1"]);
  await taker.handover.stopTaking();
});
