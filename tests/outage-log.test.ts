/**
 * Quiet, useful logs while the plugboard is away: one warning when it is lost, at most one
 * summary per interval (attempts, last error), one line when it is back; a refusal (403) is an
 * error with its causes once, then summaries. It used to be one warning per attempt: 28 lines
 * over three plugboard restarts.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";

const boards: DevPlugboard[] = [];
const consumers: TestConsumer[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  await Promise.all(boards.map((b) => b.stop()));
});

const SUMMARY_MS = 300;

/** A consumer retrying every 20 ms, with summaries every SUMMARY_MS; `attempts` counts its reconnects. */
async function countingConsumer(url: string, token: string): Promise<TestConsumer & { attempts: number }> {
  const counted = { attempts: 0 };
  const c = await startConsumer({
    url,
    token,
    logLevel: "info",
    client: {
      outageSummaryEveryMs: SUMMARY_MS,
      reconnectAfterMs: () => {
        counted.attempts++;
        return 20;
      },
    },
  });
  consumers.push(c);
  return Object.defineProperty(c, "attempts", { get: () => counted.attempts }) as TestConsumer & { attempts: number };
}

test("a plugboard restart: one warning, summaries at most every interval with the attempts, one line when back", async () => {
  const first = await DevPlugboard.start({ port: 0 });
  boards.push(first);
  const c = await countingConsumer(first.socketUrl, first.token);
  await until(() => c.client.isJoined);
  const { port, token } = first;
  await first.stop();
  const lostAt = Date.now();
  // Dozens of attempts, and time for a few summaries.
  await until(() => c.attempts >= 30 && c.lines().filter((l) => l.msg === "the plugboard is still unreachable").length >= 2, 10_000, "attempts");
  const second = await DevPlugboard.start({ port, token });
  boards.push(second);
  await until(() => c.client.isJoined, 5_000, "rejoined");
  const downMs = Date.now() - lostAt;

  const lines = c.lines().filter((l) => l.component === "plugboard" && (l.level === "warn" || l.level === "error" || String(l.msg).includes("plugboard is back")));
  const lost = lines.filter((l) => String(l.msg).startsWith("lost the plugboard"));
  const summaries = lines.filter((l) => l.msg === "the plugboard is still unreachable");
  const back = lines.filter((l) => l.msg === "the plugboard is back");
  assert.equal(lost.length, 1, JSON.stringify(lines.map((l) => l.msg)));
  assert.ok(summaries.length >= 2 && summaries.length <= downMs / SUMMARY_MS + 1, `${summaries.length} summaries in ${downMs} ms`);
  for (const summary of summaries) {
    assert.ok((summary.attempts as number) >= 1);
    assert.match(String(summary.last_error), /ECONNREFUSED/);
  }
  assert.equal(back.length, 1);
  assert.ok((back[0]!.attempts as number) >= 20, JSON.stringify(back[0]));
  assert.equal(lines.length, 1 + summaries.length + 1, "nothing else: no line per attempt");
  assert.ok(c.attempts > lines.length * 5, `${c.attempts} attempts, ${lines.length} lines`);
});

test("a refusal (HTTP 403): one error with the likely causes, then only summaries", async () => {
  const board = await DevPlugboard.start({ port: 0 });
  boards.push(board);
  const c = await countingConsumer(board.socketUrl, "not-the-token");
  await until(() => c.attempts >= 20 && c.lines().some((l) => l.msg === "the plugboard still refuses the connection"), 10_000, "attempts");
  const lines = c.lines().filter((l) => l.level === "error" || l.level === "warn");
  const refusal = lines.filter((l) => /refused the connection \(HTTP 403\)/.test(String(l.msg)));
  assert.equal(refusal.length, 1);
  assert.equal(refusal[0]!.level, "error");
  assert.match(String(refusal[0]!.msg), /TOKEN is wrong, or this replica's actions differ/);
  const summaries = lines.filter((l) => l.msg === "the plugboard still refuses the connection");
  assert.ok(summaries.every((l) => l.http_status === 403 && (l.attempts as number) >= 1));
  assert.ok(lines.length < c.attempts / 3, `${lines.length} lines for ${c.attempts} attempts`);
});
