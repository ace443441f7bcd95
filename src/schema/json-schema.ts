/**
 * JSON Schema of a zod schema, as the plugboard publishes an action's fields: zod 4 writes its
 * own (`toJSONSchema`), zod 3 needs zod-to-json-schema (loaded only for a zod 3 schema). The two
 * differ in details that say nothing about what a caller may send; `normalized` brings zod 4's to
 * zod 3's shape, so an app publishes the same schema with either:
 * - a stripping object is strict here (unknown fields are refused at every depth,
 *   src/schema/strict.ts): `additionalProperties: false`, as zod-to-json-schema writes it;
 *   a loose object's `additionalProperties: {}` is `true`;
 * - the integer bounds zod 4 adds (±2^53−1), and the pattern it adds beside a `format`
 *   (email, uuid, date-time …), are left out;
 * - a record's `propertyNames: {type: "string"}` and a tuple's `additionalItems: false` are left out;
 * - a discriminated union is `anyOf`, as zod 3's;
 * - a nullable primitive without checks is `type: [T, "null"]`, as zod-to-json-schema and zod 4.1
 *   write it (the `zod/v4` inside zod 3.25, which the account module's schemas use in an app on
 *   zod 3, writes `anyOf` with a null).
 */
import { createRequire } from "node:module";
import { toJSONSchema } from "zod/v4/core";
import { isV3, isV4 } from "./flavor.ts";
import { NotASchemaError } from "./parse.ts";

type JsonSchema = Record<string, unknown>;

const require = createRequire(import.meta.url);

export function toJsonSchema(schema: unknown): JsonSchema {
  let json: JsonSchema;
  if (isV4(schema)) {
    // zod 4's own converter reads a schema's definition, and its descriptions from zod's registry.
    const convert = toJSONSchema as unknown as (s: unknown, options: unknown) => JsonSchema;
    json = normalized(convert(schema, { target: "draft-7", io: "input", unrepresentable: "any" }));
  } else if (isV3(schema)) {
    const { zodToJsonSchema } = require("zod-to-json-schema") as { zodToJsonSchema: (s: unknown, o: unknown) => JsonSchema };
    json = zodToJsonSchema(schema, { target: "jsonSchema7", $refStrategy: "none" });
  } else {
    throw new NotASchemaError("the value");
  }
  const { $schema: _, ...rest } = json;
  return rest;
}

function normalized(value: unknown): JsonSchema {
  if (Array.isArray(value)) return value.map(normalized) as unknown as JsonSchema;
  if (typeof value !== "object" || value === null) return value as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, inner] of Object.entries(value)) out[key === "oneOf" ? "anyOf" : key] = key === "default" || key === "const" || key === "enum" ? inner : normalized(inner);
  if (out.type === "object" && typeof out.properties === "object" && out.additionalProperties === undefined) out.additionalProperties = false;
  if (typeof out.additionalProperties === "object" && out.additionalProperties !== null && Object.keys(out.additionalProperties).length === 0) out.additionalProperties = true;
  if (out.type === "integer") {
    if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
    if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  }
  if (typeof out.format === "string" && typeof out.pattern === "string") delete out.pattern;
  if (isStringOnly(out.propertyNames)) delete out.propertyNames;
  if (out.type === "array" && Array.isArray(out.items) && out.additionalItems === false) delete out.additionalItems;
  const nullable = Array.isArray(out.anyOf) && out.anyOf.length === 2 ? (out.anyOf as JsonSchema[]) : undefined;
  if (nullable && isOnlyType(nullable[0]) && isOnlyType(nullable[1], "null") && nullable[0]!.type !== "null") {
    const { anyOf: _, ...rest } = out;
    return { type: [nullable[0]!.type, "null"], ...rest };
  }
  return out;
}

/** `{type: T}` and nothing else (T a single type name, or `type` when given). */
function isOnlyType(value: JsonSchema | undefined, type?: string): boolean {
  return value !== undefined && Object.keys(value).length === 1 && typeof value.type === "string" && (type === undefined || value.type === type);
}

function isStringOnly(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 1 && (value as JsonSchema).type === "string";
}
