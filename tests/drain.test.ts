/**
 * What a deploy costs the callers. Behind the Vera Plugboard a 503 answered while draining is a
 * caller's 400 (it is never retried on another replica), and every leave of a channel gives its
 * round-robin defect a chance to throw a request away (tests/plugboard-defects.test.ts). So a
 * replica stopping leaves once and hands the answers it finishes afterwards to a replica still
 * joined, through the database they share (docs/protocol.md, src/plugboard/handover.ts).
 * Measured here with both of the plugboard's defects modelled: five SIGTERMs of one of two
 * replicas under 16 requests in flight; each shutdown leaves once and costs at most the one
 * request its leave may throw away.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DevPlugboard } from "../src/devboard/server.ts";
import { compiledFixtures, serviceDatabaseEnv, startService, type ServiceProcess } from "./support/process.ts";
import { startConsumer } from "./support/consumer.ts";

const SHUTDOWNS = 5;
const IN_FLIGHT = 16;
/**
 * DRAIN_TRANSIT_MS=n: the board takes n ms to get a routed request to its channel and loses it
 * when the channel leaves meanwhile, as the Vera Plugboard loses requests routed to a leaving
 * channel: every leave of a drain can then cost requests. Default 0, the board's own default.
 */
const TRANSIT_MS = Number(process.env.DRAIN_TRANSIT_MS ?? 0);

let board: DevPlugboard | undefined;
const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await board?.stop();
});

test(`${SHUTDOWNS} shutdowns of one of two replicas under ${IN_FLIGHT} requests in flight: at most one failure per shutdown on average`, async (t) => {
  // A request lost inside the plugboard shows up as a 408 within the test, not after 30 s.
  // A request lost in transit to a leaving channel counts as a failure too.
  board = await DevPlugboard.start({ requestTimeoutMs: 10_000, transitMs: TRANSIT_MS });
  board.faults.keepStaleRoundRobin(true);
  board.faults.registerCallersAfter(2);
  const joinedCount = () => board!.consumers().filter((c) => c.joined).length;
  // Every replica on one database: the one that stays takes the answers of those that go.
  const database = await serviceDatabaseEnv();
  const replicaEnv = (name: string) => ({
    WEBSOCKET_URL: board!.socketUrl,
    TOKEN: board!.token,
    JWT_SECRET: "drain-test-secret-that-is-at-least-32-bytes",
    ACTIONS_DIR: compiledFixtures("actions"),
    DATA_DIR: mkdtempSync(path.join(tmpdir(), `vera-drain-${name}-`)),
    LOG_LEVEL: "info",
    ...database,
  });
  const steady = startService(replicaEnv("steady"));
  processes.push(steady);
  await board.waitFor(() => joinedCount() === 1, 30_000);

  const failures: Array<{ status: number; message: unknown }> = [];
  let answered = 0;
  let loading = true;
  const worker = async () => {
    while (loading) {
      const answer = await board!.request("Slow", { ms: 20 });
      answered++;
      if (answer.status !== 200) {
        failures.push({ status: answer.status, message: (answer.body as { message?: unknown }).message });
        // With no consumer joined the board answers at once: yield, so a failing run fails
        // instead of spinning on promises that never let the event loop turn.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);

  const leaves: number[] = [];
  for (let round = 0; round < SHUTDOWNS; round++) {
    const replica = startService(replicaEnv(`round-${round}`));
    processes.push(replica);
    await replica.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
    await board.waitFor(() => joinedCount() === 2, 10_000);
    // Let the load reach the new replica, then stop it mid-stream.
    const before = answered;
    await board.waitFor(() => answered >= before + 200, 20_000).catch(() => undefined);
    replica.kill("SIGTERM");
    const { code } = await replica.exited;
    assert.equal(code, 0, `round ${round}: exit code`);
    const stopped = replica.lines().find((l) => l.msg === "stopped cleanly");
    leaves.push(Number(stopped?.leaves ?? NaN));
  }
  loading = false;
  await Promise.all(workers);

  const perShutdown = failures.length / SHUTDOWNS;
  const { lost } = board.faults;
  t.diagnostic(
    `${answered} requests answered, ${failures.length} failed over ${SHUTDOWNS} shutdowns (${perShutdown} per shutdown); leaves per drain: ${leaves.join(", ")}; thrown away past the end ${lost.pastTheEnd}, answered too soon ${lost.answeredTooSoon}; transit ${TRANSIT_MS} ms`,
  );
  assert.ok(answered > SHUTDOWNS * 200, `load kept flowing: ${answered}`);
  assert.deepEqual(leaves, Array(SHUTDOWNS).fill(1), "each drain leaves the channel once");
  assert.equal(lost.answeredTooSoon, 0, "every answer waited out the registration race, the draining replica's too");
  // What a drain can cost is what its one leave lets the round-robin defect throw away.
  assert.ok(lost.pastTheEnd <= SHUTDOWNS && failures.length <= lost.pastTheEnd, `failures: ${JSON.stringify(failures)}`);
});

test("with a transit time, the dev plugboard loses a request routed to a channel that leaves before it arrives", async () => {
  const lossy = await DevPlugboard.start({ requestTimeoutMs: 500, transitMs: 100 });
  const consumer = await startConsumer({ url: lossy.socketUrl, token: lossy.token, logLevel: "warn" });
  try {
    await lossy.waitFor(() => lossy.consumers().some((c) => c.joined), 10_000);
    assert.equal((await lossy.request("Echo", { text: "arrives" })).status, 200);
    const lost = lossy.request("Echo", { text: "in transit" });
    lossy.faults.crashChannel();
    assert.equal((await lost).status, 408, "lost inside the plugboard: the caller hears 408 at the timeout");
  } finally {
    await consumer.stop();
    await lossy.stop();
  }
});
