/**
 * Turns a request's `fields` into an action's typed input, or into the 400 answer that names
 * every bad field. `null` means absent; unknown fields are rejected by the strict schema.
 */
import { z } from "zod";
import type { FieldsSchema } from "./action.ts";
import { isJsonObject } from "../json.ts";

export interface FieldError {
  field: string;
  message: string;
}

export type Validated = { ok: true; data: unknown } | { ok: false; errors: FieldError[] };

/** Plain-language messages: the caller reads these, not zod's internals. */
const errorMap: z.ZodErrorMap = (issue, ctx) => {
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (issue.received === "undefined") return { message: "is required" };
      return { message: `must be ${article(issue.expected)}, not ${article(issue.received)}` };
    case z.ZodIssueCode.too_small:
      if (issue.type === "string") return { message: `must be at least ${plural(Number(issue.minimum), "character")}` };
      if (issue.type === "array") return { message: `must have at least ${issue.minimum} items` };
      if (issue.type === "number") return { message: `must be ${issue.inclusive ? "at least" : "greater than"} ${issue.minimum}` };
      break;
    case z.ZodIssueCode.too_big:
      if (issue.type === "string") return { message: `must be at most ${plural(Number(issue.maximum), "character")}` };
      if (issue.type === "array") return { message: `must have at most ${issue.maximum} items` };
      if (issue.type === "number") return { message: `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}` };
      break;
    case z.ZodIssueCode.invalid_string:
      if (issue.validation === "email") return { message: "must be a valid email address" };
      if (issue.validation === "uuid") return { message: "must be a UUID" };
      if (issue.validation === "url") return { message: "must be a URL" };
      break;
    case z.ZodIssueCode.invalid_enum_value:
      return { message: `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}` };
    case z.ZodIssueCode.not_finite:
      return { message: "must be a finite number" };
  }
  return { message: ctx.defaultError };
};

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function validateFields(schema: FieldsSchema, fields: unknown): Validated {
  if (fields === null || fields === undefined) fields = {};
  if (!isJsonObject(fields)) {
    return { ok: false, errors: [{ field: "fields", message: "must be a JSON object" }] };
  }
  // null means absent: drop those keys so optional fields take their defaults. A fresh
  // null-prototype object keeps a "__proto__" key an ordinary (and rejected) field.
  const present: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(fields)) {
    if (fields[key] !== null) present[key] = fields[key];
  }
  const result = schema.safeParse(present, { errorMap });
  if (result.success) {
    const nul = findNul(result.data, []);
    if (nul) return { ok: false, errors: [{ field: nul, message: "must not contain NUL characters" }] };
    return { ok: true, data: result.data };
  }
  const errors: FieldError[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      for (const key of issue.keys) errors.push({ field: [...issue.path, key].join("."), message: "is not a known field" });
    } else {
      errors.push({ field: issue.path.join(".") || "fields", message: issue.message });
    }
  }
  return { ok: false, errors };
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

/** `password: must be at least 8 characters; foo: is not a known field` */
export function describeErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join("; ");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
