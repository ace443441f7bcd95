import { test } from "node:test";
import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { METRIC_NAMES, Metrics } from "../src/ops/metrics.ts";

/** The lines of one metric family in an exposition text. */
function family(text: string, name: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(`${name}_`) || line.startsWith(`${name}{`) || line.startsWith(`${name} `) || line.endsWith(` ${name} histogram`) || line.startsWith(`# HELP ${name} `));
}

test("answers counted in plain numbers read exactly as prom-client's own counter and histogram would show them", async () => {
  const metrics = new Metrics(["Echo", "Slow"]);
  const reference = new Registry();
  const histogram = new Histogram({
    name: METRIC_NAMES.duration,
    help: "Time from a request's arrival to its answer, by action",
    labelNames: ["action"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25],
    registers: [reference],
  });
  const answers: Array<[unknown, number, number]> = [
    ["Echo", 200, 3],
    ["Echo", 200, 5],
    ["Echo", 400, 0.2],
    ["Slow", 504, 25_000],
    ["Slow", 200, 30_000], // above the last bound: only in +Inf, _sum and _count
    ["nope", 404, 0.1],
    [{ not: "a name" }, 404, 0.1],
  ];
  for (const [action, status, ms] of answers) {
    metrics.answered(action, status, ms);
    histogram.observe({ action: action === "Echo" || action === "Slow" ? action : "unknown" }, ms / 1000);
  }
  const ours = (await metrics.exposition()).body;
  const expected = family(await reference.metrics(), METRIC_NAMES.duration);
  assert.equal(expected.length, 2 + 3 * (12 + 3), "HELP, TYPE, and 15 lines for each of Echo, Slow and unknown");
  assert.deepEqual(family(ours, METRIC_NAMES.duration), expected);
  assert.match(ours, /^vera_requests_total\{action="Echo",status_code="200"\} 2$/m);
  assert.match(ours, /^vera_requests_total\{action="unknown",status_code="404"\} 2$/m);
  // A second scrape reads the same totals, not doubled ones.
  assert.match((await metrics.exposition()).body, /^vera_requests_total\{action="Echo",status_code="200"\} 2$/m);
  metrics.answered("Echo", 200, 1);
  assert.match((await metrics.exposition()).body, /^vera_requests_total\{action="Echo",status_code="200"\} 3$/m);
});

test("the queue gauges read what the dispatcher last reported", async () => {
  const metrics = new Metrics([]);
  metrics.queueChanged(3, 7);
  const text = (await metrics.exposition()).body;
  assert.match(text, new RegExp(`^${METRIC_NAMES.inFlight} 3$`, "m"));
  assert.match(text, new RegExp(`^${METRIC_NAMES.queued} 7$`, "m"));
});
