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
import { zodToJsonSchema } from "zod-to-json-schema";
import { isActionClass, type Action, type ActionClass, type FieldsSchema } from "./action.ts";
import type { Logger } from "../ops/logger.ts";
import { withJwtField } from "../auth/guard.ts";

/** One action as the plugboard sees it. */
export interface PublishedAction {
  description: string;
  fields: Record<string, unknown>;
  required: string[];
}

export interface RegisteredAction {
  name: string;
  cls: ActionClass;
  /** The action's schema made strict (unknown fields rejected), built once at start-up. */
  validator: FieldsSchema;
  /** The dispatcher checks the `jwt` field and sets ctx.user before `run`. */
  requiresUser: boolean;
  /** One instance serves every request: actions keep no per-request state. */
  instance: Action;
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
    this.published = Object.fromEntries(sorted.map((a) => [a.name, publish(a.cls)]));
    this.json = JSON.stringify(this.published);
  }

  get(name: string): RegisteredAction | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return [...this.byName.keys()];
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

/** The fields an action is validated and published with: its schema, plus `jwt` when it requires a user. */
export function fieldsSchema(cls: ActionClass): FieldsSchema {
  return cls.requiresUser === true ? withJwtField(cls.name, cls.schema) : cls.schema;
}

/** JSON Schema of each field, from the action's zod schema. */
export function publish(cls: ActionClass): PublishedAction {
  const schema = zodToJsonSchema(fieldsSchema(cls), { target: "jsonSchema7", $refStrategy: "none" }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return {
    description: cls.description ?? "",
    fields: schema.properties ?? {},
    required: schema.required ?? [],
  };
}

const SOURCE_PATTERN = "**/*.{ts,mts,js,mjs}";
const IGNORED = ["**/*.d.ts", "**/*.test.*", "**/node_modules/**", "**/_*"];

export interface LoadActionsOptions {
  dir: string;
  log: Logger;
  /** Production: an import failure, a duplicate name or no action at all throws ActionLoadError. */
  strict?: boolean;
}

export async function loadActions(options: LoadActionsOptions): Promise<Registry> {
  const { log, strict = false } = options;
  const dir = path.resolve(options.dir);
  const files = (await fg(SOURCE_PATTERN, { cwd: dir, absolute: true, ignore: IGNORED })).sort();
  const found = new Map<string, RegisteredAction>();
  const seenClasses = new Set<ActionClass>();

  for (const file of files) {
    const rel = path.relative(process.cwd(), file);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      if (strict) throw new ActionLoadError(importFailure(rel, error), { cause: error });
      log.warn({ file: rel, err: error }, "skipped action file: it failed to import");
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
      const requiresUser = cls.requiresUser === true;
      found.set(cls.name, { name: cls.name, cls, validator: fieldsSchema(cls).strict(), requiresUser, instance: new cls(), file: rel });
    }
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
