/**
 * `vera-service client <source> [--name <service>] [--out <file>]`: writes a typed client of a
 * service's actions (src/calls/client-code.ts). The source is the service's published `actions`:
 * a JSON file of them, a running dev plugboard's URL (its `GET /actions`; `?service_id=…` for
 * another service it hosts), or a folder of actions (this service's own: dist/actions). Exits 0
 * when written, 1 when the source cannot be read, 2 for a usage mistake.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseCommandLine } from "../cli/arguments.ts";
import { printParseResult } from "../cli/print.ts";
import { createLogger } from "../ops/logger.ts";
import { loadActions } from "../actions/registry.ts";
import { ClientSourceError, clientModule } from "./client-code.ts";

export const USAGE = `usage: vera-service client <source> [--name <service>] [--out <file>]
  Writes a typed client of a service's actions. <source>: a JSON file of its published actions,
  a running dev plugboard's URL (http://host:port, or …/actions?service_id=… for another service
  it hosts), or a folder of actions (this service's own: dist/actions).
  --name <service>   the service's name in the client (default: from the source)
  --out <file>       write there (default: standard output)
  -h, --help         this text`;

async function readActions(source: string): Promise<unknown> {
  if (/^https?:\/\//.test(source)) {
    const url = new URL(source);
    if (url.pathname === "/" || url.pathname === "") url.pathname = "/actions";
    const response = await fetch(url);
    if (!response.ok) throw new ClientSourceError(`${url.href} answered HTTP ${response.status}`);
    const actions = (await response.json()) as unknown;
    if (actions === null) throw new ClientSourceError(`${url.href}: no consumer of that service has joined, so it has published no actions yet`);
    return actions;
  }
  if ((await stat(source)).isDirectory()) {
    const registry = await loadActions({ dir: path.resolve(source), log: createLogger({ level: "warn", destination: process.stderr }), strict: true });
    return JSON.parse(registry.json) as unknown;
  }
  try {
    return JSON.parse(await readFile(source, "utf8")) as unknown;
  } catch (error) {
    if (error instanceof SyntaxError) throw new ClientSourceError(`${source}: not JSON (${error.message})`);
    throw error;
  }
}

export async function client(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: { name: { type: "string" }, out: { type: "string" } }, positionals: { min: 1, max: 1 } });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  const source = parsed.positionals[0]!;
  const name = parsed.values.name ?? (/^https?:/.test(source) ? "service" : path.basename(source, path.extname(source)));
  try {
    const code = await clientModule(await readActions(source), name);
    if (parsed.values.out) {
      await writeFile(parsed.values.out, code);
      process.stderr.write(`wrote ${parsed.values.out}\n`);
    } else {
      process.stdout.write(code);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`vera-service client: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
