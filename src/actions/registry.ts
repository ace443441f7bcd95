/**
 * Finds the actions: globs a folder, imports each file, keeps every Action subclass it
 * exports, and builds the `actions` JSON published to the plugboard. Every skipped file is
 * logged with the reason. In production (`strict`) a file that fails to import, two actions with
 * one name, or no action at all stop the start-up (ActionLoadError, one line saying which); in
 * dev they are warnings, so one broken file does not stop work on the others.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import fg from "fast-glob";
import { isActionClass, type Action, type ActionClass } from "./action.ts";
import type { Middleware } from "./middleware.ts";
import { deepStrict } from "../schema/strict.ts";
import { isObjectSchema, shapeOf, zodMajor } from "../schema/flavor.ts";
import { toJsonSchema } from "../schema/json-schema.ts";
import type { FieldsValidator } from "./validation.ts";
import type { Logger } from "../ops/logger.ts";
import type { Provider } from "../providers.ts";

/** One action as the plugboard sees it. */
export interface PublishedAction {
  description: string;
  fields: Record<string, unknown>;
  required: string[];
  /** JSON Schema of what a success answers in `fields`, when the action declares one. */
  output?: Record<string, unknown>;
}

/** The longest deadline an action may set: the plugboard gives up on a request after 30 s. */
const MAX_ACTION_TIMEOUT_MS = 29_000;

export interface RegisteredAction {
  name: string;
  cls: ActionClass;
  /** Its middleware's fields and its own, each strict at every depth: what requests are validated with. */
  validator: FieldsValidator;
  /** Outermost first. */
  middleware: readonly Middleware<any>[];
  /** Every provider it needs, its middleware's included: what its ctx.get may read. */
  needs: readonly Provider<unknown>[];
  /** `needs` as a set, for ctx.get's check. */
  declared: ReadonlySet<Provider<unknown>>;
  /** Its own deadline, when it sets one (else ACTION_TIMEOUT_MS). */
  timeoutMs: number | undefined;
  /** Its own concurrency bound, when it sets one; `running` counts its runs now. */
  concurrency: number | undefined;
  running: number;
  /** One instance serves every request: actions keep no per-request state. */
  instance: Action<any, any>;
  file: string;
}

export class Registry {
  readonly byName: ReadonlyMap<string, RegisteredAction>;
  /** The published actions object, its keys sorted. */
  readonly published: Readonly<Record<string, PublishedAction>>;
  /** JSON text of `published`: identical for every replica of one build. */
  readonly json: string;

  constructor(actions: RegisteredAction[]) {
    const sorted = [...actions].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.byName = new Map(sorted.map((a) => [a.name, a]));
    this.published = Object.fromEntries(sorted.map((a) => [a.name, publish(a)]));
    this.json = JSON.stringify(this.published);
  }

  get(name: string): RegisteredAction | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * A call that shows how to call this service, for the dev start line's curl: an action that
   * needs no fields when there is one (it answers as it is), else the first, with its required
   * fields given placeholder values of their type.
   */
  get exampleCall(): { action: string; fields: Record<string, unknown> } | undefined {
    const entries = Object.entries(this.published);
    const [name, action] = entries.find(([, a]) => a.required.length === 0) ?? entries[0] ?? [];
    if (name === undefined || action === undefined) return undefined;
    return { action: name, fields: Object.fromEntries(action.required.map((field) => [field, placeholder(action.fields[field])])) };
  }

  /** The providers the actions need, each once. */
  get providers(): Provider<unknown>[] {
    return [...new Set([...this.byName.values()].flatMap((a) => a.needs))];
  }
}

/** A value of a published field's type, for an example call. */
function placeholder(schema: unknown): unknown {
  const s = (schema ?? {}) as { type?: unknown; enum?: unknown[]; default?: unknown; minimum?: number };
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  switch (Array.isArray(s.type) ? s.type[0] : s.type) {
    case "integer":
    case "number":
      return s.minimum ?? 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return {};
    default:
      return "text";
  }
}

/** Why a production start-up stops while loading the actions; the message is the whole story. */
export class ActionLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ActionLoadError";
  }
}

export class DuplicateActionError extends ActionLoadError {
  constructor(name: string, files: string[]) {
    super(`Duplicate action name "${name}" in ${files.join(" and ")}`);
    this.name = "DuplicateActionError";
  }
}

/** The first line of an import error, and what a `.ts` file without a TypeScript loader needs. */
function importFailure(file: string, error: unknown): string {
  const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
  const code = (error as { code?: unknown }).code;
  const noLoader = code === "ERR_UNKNOWN_FILE_EXTENSION" || (typeof code === "string" && code.includes("TYPESCRIPT")) || code === "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING";
  const hint = /\.[mc]?ts$/.test(file) && noLoader ? " (a TypeScript file: compile it with `npm run build` and point ACTIONS_DIR at the output)" : "";
  return `action file ${file} failed to import: ${reason}${hint}`;
}

/** Why an action cannot be registered as declared (a field two owners claim, a bad limit). */
export class ActionDeclarationError extends ActionLoadError {
  constructor(action: string, problem: string) {
    super(`${action}: ${problem}`);
    this.name = "ActionDeclarationError";
  }
}

/**
 * Checks that the action's schema is a zod object and that no field has two owners (two
 * middleware, or a middleware and the action). The middleware's fields are validated one by one
 * and the action's object on its own (src/actions/validation.ts): a guard's fields (the account
 * module's) and an app's schema may come from different majors of zod.
 */
function checkFields(cls: ActionClass): void {
  if (!isObjectSchema(cls.schema)) throw new ActionDeclarationError(cls.name, "its schema must be a zod object: z.object({ ... }) (zod 3.25+ or zod 4)");
  if (cls.output !== undefined && zodMajor(cls.output) === undefined) throw new ActionDeclarationError(cls.name, "its output must be a zod schema (zod 3.25+ or zod 4)");
  const owners = new Map<string, string>();
  for (const mw of cls.use) {
    for (const [field, schema] of Object.entries(mw.fields)) {
      const other = owners.get(field);
      if (other) throw new ActionDeclarationError(cls.name, `${other} and middleware ${mw.name} both take the field "${field}"`);
      if (zodMajor(schema) === undefined) throw new ActionDeclarationError(cls.name, `middleware ${mw.name}: its field "${field}" is not a zod schema`);
      owners.set(field, `middleware ${mw.name}`);
    }
  }
  for (const field of Object.keys(shapeOf(cls.schema))) {
    const other = owners.get(field);
    if (other) throw new ActionDeclarationError(cls.name, `its schema declares "${field}", which ${other} takes: leave it to the middleware`);
  }
}

/** Whether a field may be left out: its schema accepts undefined (optional, or with a default). */
function optional(schema: unknown): boolean {
  const result = (schema as { "~standard": { validate(v: unknown): unknown } })["~standard"].validate(undefined);
  return !(result instanceof Promise) && (result as { issues?: unknown }).issues === undefined;
}

/** JSON Schema of each field — the middleware's first, then the action's own — and of its output, when declared. */
export function publish({ cls }: RegisteredAction): PublishedAction {
  const fields: Record<string, unknown> = {};
  const required: string[] = [];
  for (const mw of cls.use) {
    for (const [name, schema] of Object.entries(mw.fields)) {
      fields[name] = toJsonSchema(schema);
      if (!optional(schema)) required.push(name);
    }
  }
  const own = toJsonSchema(cls.schema) as { properties?: Record<string, unknown>; required?: string[] };
  Object.assign(fields, own.properties ?? {});
  required.push(...(own.required ?? []));
  const timeout = cls.timeoutMs === undefined ? "" : ` (answers within ${cls.timeoutMs / 1000} s)`;
  const published: PublishedAction = {
    description: `${cls.description ?? ""}${timeout}`,
    fields: described(fields),
    required,
  };
  if (cls.output) published.output = toJsonSchema(cls.output);
  return published;
}

/**
 * Every field with a description: the schema's, else the field's name. The Vera Plugboard's page
 * for a service fails (HTTP 500) on a published field without one (docs/protocol.md). Nested
 * objects' fields too.
 */
function described(properties: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(properties).map(([name, field]) => {
      if (typeof field !== "object" || field === null) return [name, field];
      const entry = { ...(field as Record<string, unknown>) };
      if (typeof entry.description !== "string" || entry.description === "") entry.description = name;
      if (typeof entry.properties === "object" && entry.properties !== null) entry.properties = described(entry.properties as Record<string, unknown>);
      return [name, entry];
    }),
  );
}

/** The registered form of an action class; throws ActionDeclarationError for a bad declaration. */
export function register(cls: ActionClass, file: string): RegisteredAction {
  const { timeoutMs, concurrency } = cls;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_ACTION_TIMEOUT_MS)) {
    throw new ActionDeclarationError(cls.name, `timeoutMs must be a whole number of ms from 1 to ${MAX_ACTION_TIMEOUT_MS}`);
  }
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new ActionDeclarationError(cls.name, "concurrency must be a whole number, at least 1");
  }
  checkFields(cls);
  const needs = [...new Set([...cls.needs, ...cls.use.flatMap((mw) => mw.needs)])];
  const owned = new Set(cls.use.flatMap((mw) => Object.keys(mw.fields)));
  return {
    name: cls.name,
    cls,
    validator: {
      middleware: cls.use.map((mw) => Object.entries(mw.fields).map(([name, schema]) => [name, deepStrict(schema)] as const)),
      owned,
      own: deepStrict(cls.schema),
      known: new Set([...owned, ...Object.keys(shapeOf(cls.schema))]),
    },
    middleware: cls.use,
    needs,
    declared: new Set(needs),
    timeoutMs,
    concurrency,
    running: 0,
    instance: new cls(),
    file,
  };
}

/** The files an app's folder of actions (or subscribers, src/domain-events/load-subscribers.ts) holds. */
export const SOURCE_PATTERN = "**/*.{ts,mts,js,mjs}";
export const IGNORED = ["**/*.d.ts", "**/*.test.*", "**/node_modules/**", "**/_*"];

/**
 * Imports a file of the app; with a version (the dev loop's reloads), afresh: a module is cached
 * by its URL, so each reload asks for a new one.
 */
export async function importFresh(file: string, version?: number): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  return (await import(version === undefined ? url : `${url}?v=${version}`)) as Record<string, unknown>;
}

export interface LoadActionsOptions {
  dir: string;
  log: Logger;
  /** Production: an import failure, a duplicate name or no action at all throws ActionLoadError. */
  strict?: boolean;
  /**
   * A reload (the dev loop, src/watch-folder.ts): the files are imported afresh (importFresh), and a file that fails to import or
   * declares an action wrongly keeps serving its actions from `previous`.
   */
  reload?: { version: number; previous: Registry };
}

export async function loadActions(options: LoadActionsOptions): Promise<Registry> {
  const { log, strict = false } = options;
  const dir = path.resolve(options.dir);
  const files = (await fg(SOURCE_PATTERN, { cwd: dir, absolute: true, ignore: IGNORED })).sort();
  const found = new Map<string, RegisteredAction>();
  const seenClasses = new Set<ActionClass>();

  /** Files whose last good actions a reload keeps. */
  const broken = new Set<string>();
  const { reload } = options;

  for (const file of files) {
    const rel = path.relative(process.cwd(), file);
    let mod: Record<string, unknown>;
    try {
      mod = await importFresh(file, reload?.version);
    } catch (error) {
      if (strict) throw new ActionLoadError(importFailure(rel, error), { cause: error });
      log.warn({ file: rel, err: error }, reload ? "action file failed to import: its last good version keeps serving" : "skipped action file: it failed to import");
      broken.add(rel);
      continue;
    }
    const classes = Object.values(mod).filter(isActionClass);
    if (classes.length === 0) {
      log.warn({ file: rel }, "skipped action file: it exports no Action subclass");
      continue;
    }
    for (const cls of classes) {
      // A class re-exported from a second file is the same action, not a duplicate.
      if (seenClasses.has(cls)) continue;
      seenClasses.add(cls);
      if (typeof cls.prototype.run !== "function") {
        log.warn({ file: rel, class: cls.name }, "skipped class: it has no run method (an abstract base?)");
        continue;
      }
      const previous = found.get(cls.name);
      if (previous) {
        const duplicate = new DuplicateActionError(cls.name, [previous.file, rel]);
        if (strict) throw duplicate;
        log.warn({ file: rel, class: cls.name, kept: previous.file }, `skipped class: ${duplicate.message}; the first one is kept`);
        continue;
      }
      let registered: RegisteredAction;
      try {
        registered = register(cls, rel);
      } catch (error) {
        if (strict || !(error instanceof ActionDeclarationError)) throw error;
        log.warn({ file: rel, class: cls.name }, `skipped class: ${error.message}`);
        broken.add(rel);
        continue;
      }
      found.set(cls.name, registered);
    }
  }
  for (const kept of reload?.previous.byName.values() ?? []) {
    if (broken.has(kept.file) && !found.has(kept.name)) found.set(kept.name, kept);
  }
  if (found.size === 0) {
    const message = `no actions found in ${path.relative(process.cwd(), dir) || "."} (ACTIONS_DIR): no file there exports an Action subclass`;
    if (strict) throw new ActionLoadError(message);
    log.warn({ dir }, message);
  }
  const registry = new Registry([...found.values()]);
  log.info({ actions: registry.names, dir: path.relative(process.cwd(), dir) || "." }, "actions loaded");
  return registry;
}
