/**
 * A Redis server of the test's own: redis-server on a free port, no persistence, which the test
 * may stop and start again (the machine's shared server, REDIS_URL, must not be stopped). The
 * binary comes from the machine; .ci/run installs Debian's redis-server when it is missing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "../../src/net.ts";

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export function hasRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    // Ready when it answers PING.
    for (let i = 0; ; i++) {
      const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (i > 200) throw new Error("redis-server did not start");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop: async () => {
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child?.kill("SIGKILL");
      await exited;
    },
  };
}
