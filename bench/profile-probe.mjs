/**
 * Preloaded into the consumer by `npm run bench:profile` (`--import ./bench/profile-probe.mjs`):
 * a V8 CPU profile of the main thread between two IPC messages, so start-up and warm-up stay out
 * of it. {profile: "start", intervalUs} starts sampling; {profile: "stop", file} writes the
 * .cpuprofile (Chrome DevTools opens it) and answers {profiled: file}. Plain JavaScript, like
 * bench/loop-probe.mjs.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

const session = new Session();
session.connect();

process.on("message", async (message) => {
  if (typeof message !== "object" || message === null || !("profile" in message)) return;
  if (message.profile === "start") {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: message.intervalUs ?? 100 });
    await session.post("Profiler.start");
    process.send?.({ profiling: true });
  } else if (message.profile === "stop") {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(message.file, JSON.stringify(profile));
    process.send?.({ profiled: message.file });
  }
});
process.channel?.unref();
