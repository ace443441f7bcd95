/**
 * The Prometheus metrics of one App, in a registry of its own (not prom-client's global one), so
 * several apps can live in one process. The dispatcher reports answers and queue changes through
 * the DispatchObserver interface; everything else (connection, held answers, a provider's lane) is read at
 * scrape time from the sources given to watch().
 *
 * Answers are counted here, in plain numbers per action, and handed to prom-client at scrape
 * time: its per-call label hashing and checks for a counter, a histogram and two gauges were
 * 1.75 µs of every request, more than a tenth of a cheap one (bench/RESULTS.md, "The dispatch
 * fast path").
 */
import type { LaneStats } from "../providers.ts";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from "prom-client";
import type { BreakerState, CallObserver } from "../calls/caller.ts";
import type { DispatchObserver } from "../actions/dispatcher.ts";
import type { ConnectionState } from "../plugboard/client.ts";
import type { AnswerStats } from "../plugboard/answers.ts";

/** The label value for action names that are not ours: callers choose names, we bound the labels. */
const UNKNOWN_ACTION = "unknown";

const CONNECTION_STATES: readonly ConnectionState[] = ["connecting", "connected", "joined", "closed"];
const ANSWER_OUTCOMES = ["held", "resent", "expired", "duplicates", "oversized"] as const satisfies ReadonlyArray<keyof AnswerStats>;
/** Seconds; up to the 25 s action deadline. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25];

/** What the metrics read at scrape time. */
export interface MetricsSources {
  connectionState(): ConnectionState;
  reconnects(): number;
  numConsumers(): number | undefined;
  answers(): Readonly<AnswerStats>;
  /** The heavy-work lanes providers reported (the account module's bcrypt lane), each named. */
  lanes?(): readonly LaneStats[];
  /** The events relay and the outbox behind it, when the app has a database. */
  events?(): EventsStats;
  /** Per subscriber: events handled, handler failures, events dead-lettered (src/domain-events/subscribers.ts). */
  subscribers?(): ReadonlyMap<string, { handled: number; failed: number; deadLettered: number }>;
}

export interface EventsStats {
  leader: boolean;
  published: number;
  failures: number;
  /** Unpublished events, and the age of the oldest (seconds; 0 when none): read at scrape time. */
  backlog(): Promise<{ count: number; oldestSeconds: number }>;
}

/** The names this module exports (the README lists them). */
export const METRIC_NAMES = {
  requests: "vera_requests_total",
  duration: "vera_request_duration_seconds",
  inFlight: "vera_requests_in_flight",
  queued: "vera_requests_queued",
  connectionState: "vera_plugboard_connection_state",
  reconnects: "vera_plugboard_reconnects_total",
  consumers: "vera_plugboard_consumers",
  answers: "vera_answers_total",
  laneUtilization: "vera_lane_utilization",
  laneWorkers: "vera_lane_workers",
  laneQueued: "vera_lane_queue_length",
  laneJob: "vera_lane_job_seconds",
  laneWait: "vera_lane_expected_wait_seconds",
  laneRefused: "vera_lane_refused_total",
  eventsLeader: "vera_events_relay_leader",
  eventsPublished: "vera_events_published_total",
  eventsFailures: "vera_events_relay_failures_total",
  eventsBacklog: "vera_events_outbox_backlog",
  eventsLag: "vera_events_relay_lag_seconds",
  subscriberEvents: "vera_subscriber_events_total",
  calls: "vera_calls_total",
  callRetries: "vera_call_retries_total",
  callDuration: "vera_call_duration_seconds",
  callBreaker: "vera_call_breaker_state",
} as const;

const BREAKER_STATES: readonly BreakerState[] = ["closed", "open", "half_open"];

/** One action label's answers: how many per status code, and their durations in DURATION_BUCKETS. */
class AnswerCounts {
  readonly byStatus = new Map<number, number>();
  /** How many durations fell in each bucket (not cumulative); those above the last bound only in `count`. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
}

export class Metrics implements DispatchObserver {
  readonly registry = new Registry();
  private actions: ReadonlySet<string>;
  private sources: MetricsSources | undefined;
  private readonly answers = new Map<string, AnswerCounts>();
  private inFlightNow = 0;
  private queuedNow = 0;

  constructor(actionNames: readonly string[]) {
    this.actions = new Set(actionNames);
    const registers = [this.registry];
    // process_* and nodejs_* metrics, among them nodejs_eventloop_lag_* (monitorEventLoopDelay).
    collectDefaultMetrics({ register: this.registry });
    this.registerAnswerMetrics(registers);
    this.registerSourceMetrics(registers);
    this.calls = this.registerCallMetrics(registers);
  }

  /** What the service caller reports (src/calls/caller.ts): calls are few next to requests, so prom-client counts them as they come. */
  readonly calls: CallObserver;

  private registerCallMetrics(registers: Registry[]): CallObserver {
    const calls = new Counter({ name: METRIC_NAMES.calls, help: "Calls to other services through the plugboard, by target service and outcome (ok, or why not)", labelNames: ["target", "outcome"], registers });
    const retries = new Counter({ name: METRIC_NAMES.callRetries, help: "Calls sent again after no consumer (422), a bad gateway (502) or a connection error, by target", labelNames: ["target"], registers });
    const duration = new Histogram({ name: METRIC_NAMES.callDuration, help: "Time a call took, retries included, by target", labelNames: ["target"], buckets: DURATION_BUCKETS, registers });
    const breaker = new Gauge({ name: METRIC_NAMES.callBreaker, help: "1 for each target's circuit breaker state (closed, open, half_open), 0 for the others", labelNames: ["target", "state"], registers });
    return {
      called: (target, outcome, seconds) => {
        calls.inc({ target, outcome });
        duration.observe({ target }, seconds);
      },
      retried: (target) => retries.inc({ target }),
      breaker: (target, state) => {
        for (const s of BREAKER_STATES) breaker.set({ target, state: s }, s === state ? 1 : 0);
      },
    };
  }

  /** The actions the labels name from now on (the dev loop's reload). */
  useActions(actionNames: readonly string[]): void {
    this.actions = new Set(actionNames);
  }

  /** Where the scrape-time metrics come from; until then they read as zero. */
  watch(sources: MetricsSources): void {
    this.sources = sources;
  }

  answered(action: unknown, statusCode: number, durationMs: number): void {
    const label = this.actionLabel(action);
    let counts = this.answers.get(label);
    if (counts === undefined) {
      counts = new AnswerCounts();
      this.answers.set(label, counts);
    }
    counts.byStatus.set(statusCode, (counts.byStatus.get(statusCode) ?? 0) + 1);
    const seconds = durationMs / 1000;
    counts.sum += seconds;
    counts.count++;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]!) {
        counts.buckets[i]!++;
        break;
      }
    }
  }

  queueChanged(inFlight: number, queued: number): void {
    this.inFlightNow = inFlight;
    this.queuedNow = queued;
  }

  /** The exposition text and its content type, for GET /metrics. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private actionLabel(action: unknown): string {
    return typeof action === "string" && this.actions.has(action) ? action : UNKNOWN_ACTION;
  }

  /** The answers' counter, histogram and gauges, filled from the plain counts at scrape time. */
  private registerAnswerMetrics(registers: Registry[]): void {
    const metrics = this;
    new Counter({
      name: METRIC_NAMES.requests,
      help: "Requests answered, by action and status code",
      labelNames: ["action", "status_code"],
      registers,
      collect() {
        // The counts only grow: set each series to its total.
        this.reset();
        for (const [action, counts] of metrics.answers) {
          for (const [status, count] of counts.byStatus) this.inc({ action, status_code: String(status) }, count);
        }
      },
    });
    // prom-client's Histogram takes one observation per call, with no way to hand it counts made
    // elsewhere; so this one is a metric of our own, in the shape prom-client's registry reads
    // (name, help, type, get()), exposed exactly as its Histogram would be.
    const histogram = {
      name: METRIC_NAMES.duration,
      help: "Time from a request's arrival to its answer, by action",
      type: "histogram",
      aggregator: "sum",
      reset: () => metrics.answers.clear(),
      get: async () => {
        const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
        for (const [action, counts] of metrics.answers) {
          let cumulative = 0;
          DURATION_BUCKETS.forEach((le, i) => {
            cumulative += counts.buckets[i]!;
            values.push({ metricName: `${METRIC_NAMES.duration}_bucket`, labels: { le, action }, value: cumulative });
          });
          values.push({ metricName: `${METRIC_NAMES.duration}_bucket`, labels: { le: "+Inf", action }, value: counts.count });
          values.push({ metricName: `${METRIC_NAMES.duration}_sum`, labels: { action }, value: counts.sum });
          values.push({ metricName: `${METRIC_NAMES.duration}_count`, labels: { action }, value: counts.count });
        }
        return { name: histogram.name, help: histogram.help, type: histogram.type, aggregator: histogram.aggregator, values };
      },
    };
    for (const registry of registers) registry.registerMetric(histogram as unknown as Metric);
    new Gauge({
      name: METRIC_NAMES.inFlight,
      help: "Requests running now",
      registers,
      collect() {
        this.set(metrics.inFlightNow);
      },
    });
    new Gauge({
      name: METRIC_NAMES.queued,
      help: "Requests waiting for a free slot (MAX_CONCURRENCY)",
      registers,
      collect() {
        this.set(metrics.queuedNow);
      },
    });
  }

  /** The events relay's figures (src/domain-events/relay.ts); zero without a database. */
  private registerEventMetrics(registers: Registry[]): void {
    const events = () => this.sources?.events?.();
    new Gauge({
      name: METRIC_NAMES.eventsLeader,
      help: "1 while this replica's events relay leads (one replica relays at a time)",
      registers,
      collect() {
        this.set(events()?.leader ? 1 : 0);
      },
    });
    const published = countedSince(() => events()?.published ?? 0);
    new Counter({
      name: METRIC_NAMES.eventsPublished,
      help: "Events this replica's relay published (to the Redis stream, or in PostgreSQL without REDIS_URL)",
      registers,
      collect() {
        published(this);
      },
    });
    const failures = countedSince(() => events()?.failures ?? 0);
    new Counter({
      name: METRIC_NAMES.eventsFailures,
      help: "Relay batches that failed (Redis or the database); their events waited and went out later",
      registers,
      collect() {
        failures(this);
      },
    });
    // One query per scrape serves both gauges.
    const none = { count: 0, oldestSeconds: 0 };
    let backlog: Promise<{ count: number; oldestSeconds: number }> | undefined;
    const readBacklog = () =>
      (backlog ??= (events()?.backlog() ?? Promise.resolve(none))
        .catch(() => none)
        .finally(() => setImmediate(() => (backlog = undefined))));
    new Gauge({
      name: METRIC_NAMES.eventsBacklog,
      help: "Events in the outbox not yet published",
      registers,
      async collect() {
        this.set((await readBacklog()).count);
      },
    });
    const metrics = this;
    const subscriberEvents = countedSince(function* () {
      for (const [subscriber, stats] of metrics.sources?.subscribers?.() ?? []) {
        yield [{ subscriber, outcome: "handled" }, stats.handled] as const;
        yield [{ subscriber, outcome: "failed" }, stats.failed] as const;
        yield [{ subscriber, outcome: "dead_lettered" }, stats.deadLettered] as const;
      }
    });
    new Counter({
      name: METRIC_NAMES.subscriberEvents,
      help: "Events a subscriber handled, handler failures (each retried), and events dead-lettered, by subscriber",
      labelNames: ["subscriber", "outcome"],
      registers,
      collect() {
        subscriberEvents(this);
      },
    });
    new Gauge({
      name: METRIC_NAMES.eventsLag,
      help: "Age in seconds of the oldest event not yet published (0 when none)",
      registers,
      async collect() {
        this.set((await readBacklog()).oldestSeconds);
      },
    });
  }

  private registerSourceMetrics(registers: Registry[]): void {
    const metrics = this;
    new Gauge({
      name: METRIC_NAMES.connectionState,
      help: "1 for the plugboard connection's current state (connecting, connected, joined, closed), 0 for the others",
      labelNames: ["state"],
      registers,
      collect() {
        const current = metrics.sources?.connectionState();
        for (const state of CONNECTION_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    const reconnects = countedSince(() => metrics.sources?.reconnects() ?? 0);
    new Counter({
      name: METRIC_NAMES.reconnects,
      help: "Connections to the plugboard opened after the first one",
      registers,
      collect() {
        reconnects(this);
      },
    });
    const laneRefused = countedSince(() => (metrics.sources?.lanes?.() ?? []).map((lane) => [{ lane: lane.name }, lane.refused] as const));
    new Counter({
      name: METRIC_NAMES.laneRefused,
      help: "Jobs a heavy-work lane refused at once (503): they could not have started within its longest wait (BCRYPT_MAX_WAIT_MS for bcrypt) or finished before their deadline",
      labelNames: ["lane"],
      registers,
      collect() {
        laneRefused(this);
      },
    });
    const answers = countedSince(() => {
      const stats = metrics.sources?.answers();
      return ANSWER_OUTCOMES.map((outcome) => [{ outcome }, stats?.[outcome] ?? 0] as const);
    });
    new Counter({
      name: METRIC_NAMES.answers,
      help: "Answers kept across disconnects: held then sent, resent after a rejoin, expired (older than 30 s), duplicates of a request; oversized: sent as a 500 because the plugboard refused frames that large",
      labelNames: ["outcome"],
      registers,
      collect() {
        answers(this);
      },
    });
    this.registerEventMetrics(registers);
    new Gauge({
      name: METRIC_NAMES.consumers,
      help: "Consumers joined to this service, as the plugboard last said",
      registers,
      collect() {
        // 0 while there is no source (before the watch).
        this.set(metrics.sources?.numConsumers() ?? 0);
      },
    });
    // Each lane a provider reported, by its name (the account module's: bcrypt); none for an app without one.
    const laneReadings: Array<[name: string, help: string, read: (lane: LaneStats) => number]> = [
      [METRIC_NAMES.laneUtilization, "Share of a heavy-work lane's workers busy now (0 to 1)", (l) => (l.workers === 0 ? 0 : l.running / l.workers)],
      [METRIC_NAMES.laneWorkers, "A heavy-work lane's workers (the most jobs that run at once)", (l) => l.workers],
      [METRIC_NAMES.laneQueued, "Jobs admitted to a heavy-work lane and waiting for a worker", (l) => l.queued],
      [METRIC_NAMES.laneJob, "The moving figure of one job of a heavy-work lane on this machine now, in seconds", (l) => l.estimateMs / 1000],
      [METRIC_NAMES.laneWait, "The wait a job admitted to a heavy-work lane now would expect, in seconds (admitted up to its longest wait)", (l) => l.expectedWaitMs / 1000],
    ];
    for (const [name, help, read] of laneReadings) {
      new Gauge({
        name,
        help,
        labelNames: ["lane"],
        registers,
        collect() {
          for (const lane of metrics.sources?.lanes?.() ?? []) this.set({ lane: lane.name }, read(lane));
        },
      });
    }
  }
}

/**
 * Counters fed at scrape time by what a source has counted so far: a total, or one per set of
 * labels. Only what was added since the last scrape is counted; a source that starts again from 0
 * (a subscriber reloaded in dev) is counted on from there, so the counter never goes down.
 */
function countedSince(read: () => number | Iterable<readonly [labels: Record<string, string>, total: number]>): (counter: Counter<string>) => void {
  const seen = new Map<string, number>();
  return (counter) => {
    const readings = read();
    for (const [labels, total] of typeof readings === "number" ? [[{}, readings] as const] : readings) {
      const key = JSON.stringify(labels);
      const before = seen.get(key) ?? 0;
      // An increment of 0 still makes the series, so a scrape shows it at 0 from the start.
      counter.inc(labels, Math.max(0, total - before));
      seen.set(key, total);
    }
  };
}

/** Calls every observer given (e.g. the metrics and a test's own). */
export function observeAll(...observers: Array<DispatchObserver | undefined>): DispatchObserver {
  const present = observers.filter((o): o is DispatchObserver => o !== undefined);
  return {
    answered: (action, statusCode, durationMs) => {
      for (const o of present) o.answered?.(action, statusCode, durationMs);
    },
    queueChanged: (inFlight, queued) => {
      for (const o of present) o.queueChanged?.(inFlight, queued);
    },
  };
}
