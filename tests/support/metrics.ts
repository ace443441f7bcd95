/** Reading a service's HEALTH_PORT endpoints in tests. */
import assert from "node:assert/strict";

/** The value of one sample line, e.g. sample(text, 'vera_requests_total{action="Echo",status_code="200"}'). */
export function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * What an operator sees of the events of a service whose subscriber `subscriber` has handled
 * one event: /healthz with the relay leading, and the relay's and the subscriber's figures.
 */
export async function assertEventsReported(port: number, subscriber: string): Promise<void> {
  const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as unknown;
  assert.deepEqual(health, { status: "ok", events_relay: "leading" });
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(sample(metrics, "vera_events_relay_leader"), 1);
  assert.ok(sample(metrics, "vera_events_published_total")! >= 1);
  assert.equal(sample(metrics, "vera_events_outbox_backlog"), 0);
  assert.equal(sample(metrics, "vera_events_relay_lag_seconds"), 0);
  assert.equal(sample(metrics, `vera_subscriber_events_total{subscriber="${subscriber}",outcome="handled"}`), 1);
}
