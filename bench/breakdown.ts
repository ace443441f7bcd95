/**
 * Breaks a V8 CPU profile of the consumer down by the component a request passes through. Each
 * sample is charged to the innermost frame on its stack that belongs to a component: a builtin
 * (JSON.parse, Map#set), zod or a Node.js internal with no component of its own is charged to
 * whatever called it, so zod under the request handler's envelope check counts as that check and
 * zod under the fields' validation as that. Used by bench/profile.ts.
 */

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface Frame {
  functionName: string;
  url: string;
}

/** The functions of src/plugboard/frames.ts that decode (the others encode). */
const DECODING = new Set(["decode", "check", "isRef"]);

/** The components, in the order a request meets them; `test` sees one frame. */
const COMPONENTS: Array<{ name: string; test(f: Frame): boolean }> = [
  { name: "frame read (ws receiver, UTF-8 check)", test: (f) => /\/ws\/lib\/(receiver|buffer-util|validation|permessage-deflate)\.js$/.test(f.url) },
  { name: "frame decode (JSON.parse, frame checks)", test: (f) => ours(f, "plugboard/frames") && DECODING.has(f.functionName) || ours(f, "plugboard/client") && f.functionName === "decodeFrame" },
  { name: "phoenix client: channel dispatch", test: (f) => f.url.includes("/node_modules/phoenix/") || ours(f, "plugboard/client") && f.functionName === "onMessage" },
  { name: "request envelope validation (zod)", test: (f) => ours(f, "plugboard/client") && f.functionName === "runHandler" },
  { name: "request handler (events/request)", test: (f) => ours(f, "events/request") },
  { name: "field validation (zod, NUL check)", test: (f) => ours(f, "actions/validation") || ours(f, "actions/strict") },
  { name: "deadline timer and signal", test: (f) => f.url === "node:internal/timers" || f.url === "node:timers" || ours(f, "actions/request-context") },
  { name: "dispatcher (queue, slots, middleware)", test: (f) => ours(f, "actions/dispatcher") || ours(f, "actions/middleware") },
  { name: "answer bookkeeping", test: (f) => ours(f, "plugboard/answers") || ours(f, "plugboard/sent-answers") },
  { name: "metrics", test: (f) => f.url.includes("/node_modules/prom-client/") || ours(f, "ops/metrics") },
  { name: "logging", test: (f) => f.url.includes("/node_modules/pino") || f.url.includes("/node_modules/sonic-boom/") || ours(f, "ops/logger") },
  {
    name: "the action (its code, jsonwebtoken, database)",
    test: (f) =>
      /\/(actions|account|examples|tests\/fixtures)\/[^/]+\.[jt]s$/.test(f.url) && !f.url.includes("/src/actions/") ||
      /\/node_modules\/(jsonwebtoken|jws|jwa|kysely|pg|pg-pool|pg-protocol|bcryptjs|piscina|libphonenumber-js)\//.test(f.url),
  },
  { name: "answer encode (JSON.stringify, size check)", test: (f) => ours(f, "actions/responses") },
  {
    name: "frame encode and socket write",
    test: (f) =>
      ours(f, "plugboard/frames") ||
      ours(f, "plugboard/client") ||
      /\/ws\/lib\/(sender|websocket)\.js$/.test(f.url) ||
      /^node:(net|internal\/stream_base_commons|internal\/streams\/.*|stream)$/.test(f.url),
  },
  { name: "promises, microtasks, nextTick", test: (f) => f.url === "node:internal/process/task_queues" || f.url === "node:internal/async_hooks" },
  { name: "garbage collection", test: (f) => f.functionName === "(garbage collector)" },
  { name: "idle (waiting for the socket)", test: (f) => f.functionName === "(idle)" },
  { name: "V8 and native code, no JS frame (program)", test: (f) => f.functionName === "(program)" },
];

/** A frame of the consumer's own modules (dist/src/… or src/…, .js or .ts). */
function ours(f: Frame, module: string): boolean {
  return f.url.endsWith(`/${module}.js`) || f.url.endsWith(`/${module}.ts`);
}

/** Frames charged to their caller: builtins, zod, Node.js internals with no component of their own. */
function transparent(f: Frame): boolean {
  return f.url === "" || f.url.startsWith("node:") || f.url.includes("/node_modules/zod/");
}

export interface Breakdown {
  /** Milliseconds sampled, and per component. */
  totalMs: number;
  components: Array<{ name: string; ms: number }>;
  /** Self time by file (the leaf frame's, builtins under their caller's file), the largest first. */
  files: Array<{ file: string; ms: number }>;
}

export function breakdown(profile: CpuProfile): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const componentOf = new Map<number, string>();
  const fileOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = componentOf.get(id);
    if (known) return known;
    let name: string | undefined;
    let file: string | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      file ??= frame.url && !frame.url.startsWith("node:") ? shortFile(frame.url) : undefined;
      const component = COMPONENTS.find((c) => c.test(frame));
      if (component) {
        name = component.name;
        break;
      }
      if (!transparent(frame) && frame.functionName !== "(root)") {
        name = `other: ${shortFile(frame.url)}`;
        break;
      }
    }
    name ??= "other: no attributable frame";
    componentOf.set(id, name);
    fileOf.set(id, file ?? `(${byId.get(id)!.callFrame.functionName || "builtin"})`);
    return name;
  };

  const components = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample lasts until the next one; the last one, as long as the one before it.
    const us = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    const name = classify(id);
    components.set(name, (components.get(name) ?? 0) + us);
    const file = fileOf.get(id)!;
    files.set(file, (files.get(file) ?? 0) + us);
    totalUs += us;
  }
  const order = (name: string) => {
    const i = COMPONENTS.findIndex((c) => c.name === name);
    return i === -1 ? COMPONENTS.length : i;
  };
  return {
    totalMs: totalUs / 1000,
    components: [...components].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => order(a.name) - order(b.name) || b.ms - a.ms),
    files: [...files].map(([file, us]) => ({ file, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
  };
}

/** "…/node_modules/ws/lib/sender.js" → "ws/lib/sender.js"; "file:///…/dist/src/x.js" → "dist/src/x.js". */
function shortFile(url: string): string {
  const modules = url.lastIndexOf("/node_modules/");
  if (modules !== -1) return url.slice(modules + "/node_modules/".length);
  const cwd = `file://${process.cwd()}/`;
  return url.startsWith(cwd) ? url.slice(cwd.length) : url;
}
