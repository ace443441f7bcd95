/**
 * Parsing with a schema of either zod, with the framework's plain-language messages: the caller
 * reads these, not zod's internals, and they read the same whichever zod the app has ("name: is
 * required", "password: must be at least 8 characters"). A message the schema's author wrote
 * (`.min(8, "too short")`) wins over them, as zod orders its messages.
 */
import { isV3, isV4, zodMajor } from "./flavor.ts";

export interface SchemaIssue {
  path: PropertyKey[];
  message: string;
  /** For an object given keys it does not know: those keys (each is reported as its own field). */
  unknownKeys?: string[];
}

export type Parsed<T = unknown> = { success: true; data: T } | { success: false; issues: SchemaIssue[] };

export class NotASchemaError extends TypeError {
  constructor(what: string) {
    super(`${what} is not a zod schema (zod 3.25+ or zod 4)`);
    this.name = "NotASchemaError";
  }
}

export function parseWith<T = unknown>(schema: unknown, value: unknown): Parsed<T> {
  type Raw = { success: boolean; data?: unknown; error?: { issues: Array<Record<string, any>> } };
  let result: Raw;
  if (isV4(schema)) result = (schema.safeParse as (v: unknown, o: unknown) => Raw)(value, { error: messageV4 });
  else if (isV3(schema)) result = (schema.safeParse as (v: unknown, o: unknown) => Raw)(value, { errorMap: messageV3 });
  else throw new NotASchemaError(zodMajor(schema) === undefined ? "the value" : "this schema");
  if (result.success) return { success: true, data: result.data as T };
  return {
    success: false,
    issues: result.error!.issues.map((issue) => ({
      path: issue.path as PropertyKey[],
      message: String(issue.message),
      ...(issue.code === "unrecognized_keys" ? { unknownKeys: issue.keys as string[] } : {}),
    })),
  };
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** What a value is, in zod 3's words (its `received`), for zod 4 issues that carry the input instead. */
function received(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "array";
  if (typeof input === "number") return Number.isNaN(input) ? "nan" : Number.isInteger(input) ? "number" : "float";
  return typeof input;
}

/**
 * A union none of whose options took the value: the types it would take, when every option
 * refused it for its type ("must be a string or a number"), else a plain refusal. `received`:
 * what the value is in zod 3's words, undefined when it is missing.
 */
function unionMessage(expected: ReadonlyArray<string | undefined>, received: string | undefined): string {
  if (expected.length === 0 || expected.some((e) => e === undefined)) return "matches none of the forms it may take";
  if (received === undefined) return "is required";
  const names = [...new Set(expected.map((e) => (e === "int" ? "integer" : e!)))].map(article);
  const listed = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
  return `must be ${listed}, not ${article(received)}`;
}

/** The messages on sizes, shared by both zods: what is measured, the bound, and whether it is inclusive. */
function sizeMessage(direction: "small" | "big", measured: string, bound: number, inclusive: boolean): string | undefined {
  const least = direction === "small";
  if (measured === "string") return `must be ${least ? "at least" : "at most"} ${plural(bound, "character")}`;
  if (measured === "array" || measured === "set") return `must have ${least ? "at least" : "at most"} ${bound} items`;
  if (measured === "number" || measured === "int" || measured === "bigint") {
    return `must be ${inclusive ? (least ? "at least" : "at most") : least ? "greater than" : "less than"} ${bound}`;
  }
  return undefined;
}

const FORMATS: Record<string, string> = {
  email: "must be a valid email address",
  uuid: "must be a UUID",
  guid: "must be a UUID",
  url: "must be a URL",
  regex: "is not in the expected format",
  datetime: "must be a date and time (ISO 8601)",
  date: "must be a date (YYYY-MM-DD)",
  time: "must be a time (HH:MM[:SS])",
};

/** A string format's message: zod 3's `validation` (a name, or {startsWith: …}) or zod 4's `format`, with its detail. */
function formatMessage(format: string, detail?: string): string {
  if (format === "starts_with" || format === "startsWith") return `must start with ${JSON.stringify(detail)}`;
  if (format === "ends_with" || format === "endsWith") return `must end with ${JSON.stringify(detail)}`;
  if (format === "includes") return `must include ${JSON.stringify(detail)}`;
  return FORMATS[format] ?? `must be a valid ${format}`;
}

function messageV4(issue: Record<string, any>): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return "is required";
      if (issue.expected === "number" && typeof issue.input === "number") return "must be a finite number";
      const expected = issue.expected === "int" ? "integer" : String(issue.expected);
      return `must be ${article(expected)}, not ${article(received(issue.input))}`;
    }
    case "too_small":
      return sizeMessage("small", String(issue.origin), Number(issue.minimum), issue.inclusive !== false);
    case "too_big":
      return sizeMessage("big", String(issue.origin), Number(issue.maximum), issue.inclusive !== false);
    case "invalid_format":
      return formatMessage(String(issue.format), issue.prefix ?? issue.suffix ?? issue.includes);
    case "invalid_union": {
      // Each option's issues, their paths relative to the union.
      const options = (issue.errors ?? []) as Array<Array<Record<string, any>>>;
      const expected = options.map((o) => (o.length === 1 && o[0]!.code === "invalid_type" && o[0]!.path.length === 0 ? String(o[0]!.expected) : undefined));
      return unionMessage(expected, issue.input === undefined ? undefined : received(issue.input));
    }
    case "invalid_value": {
      const values = issue.values as unknown[];
      return values.length === 1 && issue.inst?._zod?.def?.type !== "enum" ? `must be ${JSON.stringify(values[0])}` : `must be one of ${values.map((o) => JSON.stringify(o)).join(", ")}`;
    }
  }
  return undefined;
}

function messageV3(issue: Record<string, any>, ctx: { defaultError: string }): { message: string } {
  let message: string | undefined;
  switch (issue.code) {
    case "invalid_type":
      message = issue.received === "undefined" ? "is required" : `must be ${article(String(issue.expected))}, not ${article(String(issue.received))}`;
      break;
    case "too_small":
      message = sizeMessage("small", String(issue.type), Number(issue.minimum), issue.inclusive !== false);
      break;
    case "too_big":
      message = sizeMessage("big", String(issue.type), Number(issue.maximum), issue.inclusive !== false);
      break;
    case "invalid_string": {
      const validation = issue.validation as string | Record<string, unknown>;
      if (typeof validation === "string") message = formatMessage(validation);
      else {
        const [kind, detail] = Object.entries(validation)[0] ?? [];
        if (kind) message = formatMessage(kind, String(detail));
      }
      break;
    }
    case "invalid_enum_value":
      message = `must be one of ${(issue.options as unknown[]).map((o) => JSON.stringify(o)).join(", ")}`;
      break;
    case "invalid_union": {
      // Each option's issues, their paths from the root (as the union's own).
      const options = ((issue.unionErrors ?? []) as Array<{ issues: Array<Record<string, any>> }>).map((e) => e.issues);
      const same = (i: Record<string, any>) => i.code === "invalid_type" && i.path.length === issue.path.length;
      const expected = options.map((o) => (o.length === 1 && same(o[0]!) ? String(o[0]!.expected) : undefined));
      const got = options[0]?.[0]?.received as string | undefined;
      message = unionMessage(expected, got === "undefined" ? undefined : (got ?? "value"));
      break;
    }
    case "invalid_literal":
      message = `must be ${JSON.stringify(issue.expected)}`;
      break;
    case "not_finite":
      message = "must be a finite number";
      break;
  }
  return { message: message ?? ctx.defaultError };
}
