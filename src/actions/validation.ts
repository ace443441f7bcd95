/**
 * Turns a request's `fields` into an action's typed input, or into the 400 answer that names
 * every bad field. `null` means absent; unknown fields are rejected by the strict schema.
 */
import { parseWith, type SchemaIssue } from "../schema/parse.ts";
import { isJsonObject } from "../json.ts";
import { badRequest, MESSAGES, type ActionResponse } from "./responses.ts";

export interface FieldError {
  field: string;
  message: string;
}

/** A failed validation: the first MAX_LISTED_ERRORS problems, and how many more there were. */
/** The action's own fields, and each middleware's (in `use` order), checked. */
export type Validated = { ok: true; data: unknown; middleware: ReadonlyArray<Record<string, unknown>> } | { ok: false; errors: FieldError[]; omitted: number };

/**
 * Bounds on what a 400 says, so that no request can turn into a larger answer: a request with
 * 200,000 unknown field names once got an 8 MB answer that listed every one of them.
 */
export const MAX_LISTED_ERRORS = 20;
const MAX_FIELD_CHARS = 100;
const MAX_ERROR_MESSAGE_CHARS = 200;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** One field error, its name and message clipped (a field name is whatever the caller sent). */
function fieldError(field: string, message: string): FieldError {
  return { field: clip(field, MAX_FIELD_CHARS), message: clip(message, MAX_ERROR_MESSAGE_CHARS) };
}

/**
 * What a request's fields are checked with: each middleware field's schema and the action's own
 * object, strict at every depth (src/schema/strict.ts), and every field name either knows.
 */
export interface FieldsValidator {
  /** Per middleware of the action, outermost first: its fields' schemas by name. */
  middleware: ReadonlyArray<ReadonlyArray<readonly [name: string, schema: unknown]>>;
  /** Every middleware field's name: not the action's own. */
  owned: ReadonlySet<string>;
  own: unknown;
  known: ReadonlySet<string>;
}

export function validateFields(validator: FieldsValidator, fields: unknown): Validated {
  if (fields === null || fields === undefined) fields = {};
  if (!isJsonObject(fields)) {
    return { ok: false, errors: [fieldError("fields", "must be a JSON object")], omitted: 0 };
  }
  const present = withoutNulls(fields);
  // Hundreds of unknown names are refused before zod is asked: listing them costs it far more
  // than counting them costs us, and only the first few are listed anyway.
  const unknown = unknownKeys(validator.known, present);
  if (unknown.count > MAX_LISTED_ERRORS) {
    return { ok: false, errors: unknown.first.map((key) => fieldError(key, "is not a known field")), omitted: unknown.count - MAX_LISTED_ERRORS };
  }
  const errors: FieldError[] = [];
  let total = 0;
  const add = (field: string, message: string) => {
    if (total++ < MAX_LISTED_ERRORS) errors.push(fieldError(field, message));
  };
  const report = (issues: SchemaIssue[], prefix: PropertyKey[]) => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.unknownKeys) {
        // Only the first few are even formatted: there may be hundreds of thousands.
        const listed = Math.max(0, Math.min(issue.unknownKeys.length, MAX_LISTED_ERRORS - total));
        for (let i = 0; i < listed; i++) add([...path, issue.unknownKeys[i]].map(String).join("."), "is not a known field");
        total += issue.unknownKeys.length - listed;
      } else {
        add(path.map(String).join(".") || "fields", issue.message);
      }
    }
  };
  // Each middleware's fields one by one, into its own object; the action's own object with the
  // rest (unknown names included).
  let rest = present;
  if (validator.owned.size > 0) {
    rest = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(present)) if (!validator.owned.has(key)) rest[key] = present[key];
  }
  const middleware = validator.middleware.map((schemas) => {
    const taken: Record<string, unknown> = {};
    for (const [name, schema] of schemas) {
      const result = parseWith(schema, Object.hasOwn(present, name) ? present[name] : undefined);
      if (!result.success) report(result.issues, [name]);
      else if (result.data !== undefined) taken[name] = result.data;
    }
    return taken;
  });
  const result = parseWith<Record<string, unknown>>(validator.own, rest);
  if (!result.success) report(result.issues, []);
  if (total > 0 || !result.success) return { ok: false, errors, omitted: total - errors.length };
  const withNul = [result.data, ...middleware].find(hasNul);
  if (withNul) return { ok: false, errors: [fieldError(findNul(withNul, []) ?? "fields", "must not contain NUL characters")], omitted: 0 };
  return { ok: true, data: result.data, middleware };
}

/** How many top-level keys are not known, and the first MAX_LISTED_ERRORS of them. */
function unknownKeys(known: ReadonlySet<string>, fields: Record<string, unknown>): { count: number; first: string[] } {
  const first: string[] = [];
  let count = 0;
  for (const key in fields) {
    if (known.has(key)) continue;
    if (count++ < MAX_LISTED_ERRORS) first.push(key);
  }
  return { count, first };
}

/**
 * null means absent: the fields without their null keys, so optional fields take their defaults.
 * Most requests have none, and get their fields back as they are (JSON.parse made "__proto__" an
 * own key there, an ordinary and rejected field); otherwise a fresh null-prototype copy keeps it so.
 */
function withoutNulls(fields: Record<string, unknown>): Record<string, unknown> {
  let hasNull = false;
  for (const key in fields) {
    if (fields[key] === null) {
      hasNull = true;
      break;
    }
  }
  if (!hasNull) return fields;
  const present: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(fields)) {
    if (fields[key] !== null) present[key] = fields[key];
  }
  return present;
}

/** Whether any string in the value holds U+0000; allocates nothing, as most requests hold none. */
function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (hasNul(item)) return true;
    return false;
  }
  for (const key in value) if (Object.hasOwn(value, key) && hasNul((value as Record<string, unknown>)[key])) return true;
  return false;
}

/**
 * The path of the first string holding U+0000, if any. PostgreSQL text cannot store NUL (the
 * insert fails), and no caller means one, so it is refused here, for every action, as a 400.
 */
function findNul(value: unknown, path: string[]): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path.join(".") || "fields" : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = findNul(inner, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/**
 * The 400 for invalid fields, as every action words it: the first MAX_LISTED_ERRORS problems
 * (clipped) in the message and in `fields.errors`, plus `fields.omitted` when there were more,
 * e.g. `Invalid fields: password: must be at least 8 characters; foo: is not a known field; and 3 more`.
 */
export function invalidFieldsAnswer(errors: FieldError[], omitted = 0): ActionResponse {
  const listed = errors.slice(0, MAX_LISTED_ERRORS).map((e) => fieldError(e.field, e.message));
  const more = omitted + errors.length - listed.length;
  const described = listed.map((e) => `${e.field}: ${e.message}`).join("; ");
  return badRequest(
    MESSAGES.invalidFields(more > 0 ? `${described}; and ${more} more` : described),
    more > 0 ? { errors: listed, omitted: more } : { errors: listed },
  );
}
