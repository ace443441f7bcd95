/**
 * Preloaded into the consumer by the benchmark (`--import ./bench/loop-probe.mjs`; plain
 * JavaScript, since the flag reaches the bcrypt worker threads too, where it loads before tsx
 * could compile it): measures the event-loop delay and memory, and reports them over the IPC
 * channel when asked, then resets. With --expose-gc it also reports RSS after a full GC, which
 * tells retained memory apart from garbage V8 has not collected yet.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

const histogram = monitorEventLoopDelay({ resolution: 5 });
histogram.enable();

process.on("message", (message) => {
  if (message !== "probe") return;
  const rssBytes = process.memoryUsage().rss;
  globalThis.gc?.();
  const after = process.memoryUsage();
  process.send?.({
    loopMaxMs: histogram.max / 1e6,
    loopP99Ms: histogram.percentile(99) / 1e6,
    rssBytes,
    rssAfterGcBytes: after.rss,
    // Where it is, after the GC: V8's heap (reserved and used), and memory outside it.
    heapTotalBytes: after.heapTotal,
    heapUsedBytes: after.heapUsed,
    externalBytes: after.external,
    arrayBuffersBytes: after.arrayBuffers,
  });
  histogram.reset();
});
// The IPC channel must not keep the consumer alive on its own.
process.channel?.unref();
