/**
 * Which zod made a schema, read from the schema's own definition (never by `instanceof`: the app's
 * copy of zod is not necessarily the framework's): zod 4 keeps it in `_zod.def` (`type:
 * "object"`), zod 3 in `_def` (`typeName: "ZodObject"`). `kindOf` names both the same way.
 */
export type ZodMajor = 3 | 4;

/** A zod 3 schema as the framework reads it. */
export interface V3Schema {
  _def: { typeName: string } & Record<string, any>;
  [key: string]: any;
}

/** A zod 4 schema (classic or mini) as the framework reads it. */
export interface V4Schema {
  _zod: { def: { type: string } & Record<string, any>; [key: string]: any };
  [key: string]: any;
}

export function zodMajor(schema: unknown): ZodMajor | undefined {
  if (typeof schema !== "object" || schema === null) return undefined;
  const s = schema as Partial<V4Schema & V3Schema>;
  if (typeof s._zod?.def?.type === "string") return 4;
  if (typeof s._def?.typeName === "string") return 3;
  return undefined;
}

export function isV4(schema: unknown): schema is V4Schema {
  return zodMajor(schema) === 4;
}

export function isV3(schema: unknown): schema is V3Schema {
  return zodMajor(schema) === 3;
}

/** The kind of a schema in zod 4's words ("object", "optional", "pipe" …); zod 3's "ZodEffects" is "effects". */
export function kindOf(schema: unknown): string | undefined {
  if (isV4(schema)) return schema._zod.def.type;
  if (isV3(schema)) return schema._def.typeName.replace(/^Zod/, "").toLowerCase();
  return undefined;
}

/** The fields of an object schema of either zod. */
export function shapeOf(schema: unknown): Record<string, unknown> {
  if (isV4(schema) && schema._zod.def.type === "object") return schema._zod.def.shape as Record<string, unknown>;
  if (isV3(schema) && schema._def.typeName === "ZodObject") return (schema._def.shape as () => Record<string, unknown>)();
  throw new TypeError("not a zod object schema");
}

export function isObjectSchema(schema: unknown): boolean {
  return kindOf(schema) === "object";
}
