/**
 * Unknown fields are refused at every depth, not only at the top: zod objects strip unknown
 * keys by default, which would let `{"address": {"city": "x", "typo": 1}}` pass silently.
 * `deepStrict` rebuilds a schema with every default (stripping) object made strict; an object
 * its author declared `.passthrough()` or with a `.catchall()` keeps that choice.
 */
import { z } from "zod";

export function deepStrict<T extends z.ZodTypeAny>(schema: T): T {
  return strict(schema, new Map()) as T;
}

function strict(schema: z.ZodTypeAny, seen: Map<z.ZodTypeAny, z.ZodTypeAny>): z.ZodTypeAny {
  const done = seen.get(schema);
  if (done) return done;
  const result = rebuild(schema, seen);
  seen.set(schema, result);
  return result;
}

function rebuild(schema: z.ZodTypeAny, seen: Map<z.ZodTypeAny, z.ZodTypeAny>): z.ZodTypeAny {
  const s = (inner: z.ZodTypeAny) => strict(inner, seen);
  if (schema instanceof z.ZodObject) {
    const shape = Object.fromEntries(Object.entries(schema.shape as z.ZodRawShape).map(([k, v]) => [k, s(v)]));
    const def = schema._def as { unknownKeys: string; catchall: z.ZodTypeAny };
    const rebuilt = new z.ZodObject({ ...schema._def, shape: () => shape });
    const keepsUnknown = def.unknownKeys === "passthrough" || !(def.catchall instanceof z.ZodNever);
    return keepsUnknown ? rebuilt : rebuilt.strict();
  }
  if (schema instanceof z.ZodOptional) return s(schema.unwrap()).optional();
  if (schema instanceof z.ZodNullable) return s(schema.unwrap()).nullable();
  if (schema instanceof z.ZodDefault) return new z.ZodDefault({ ...schema._def, innerType: s(schema._def.innerType) });
  if (schema instanceof z.ZodCatch) return new z.ZodCatch({ ...schema._def, innerType: s(schema._def.innerType) });
  if (schema instanceof z.ZodArray) return new z.ZodArray({ ...schema._def, type: s(schema.element) });
  if (schema instanceof z.ZodSet) return new z.ZodSet({ ...schema._def, valueType: s(schema._def.valueType) });
  if (schema instanceof z.ZodRecord) return new z.ZodRecord({ ...schema._def, valueType: s(schema._def.valueType) });
  if (schema instanceof z.ZodTuple) {
    return new z.ZodTuple({ ...schema._def, items: schema._def.items.map(s), rest: schema._def.rest ? s(schema._def.rest) : null });
  }
  if (schema instanceof z.ZodUnion) return new z.ZodUnion({ ...schema._def, options: schema._def.options.map(s) });
  if (schema instanceof z.ZodDiscriminatedUnion) {
    const options = (schema.options as z.ZodTypeAny[]).map(s) as [z.AnyZodObject, z.AnyZodObject, ...z.AnyZodObject[]];
    return z.discriminatedUnion(schema.discriminator, options);
  }
  if (schema instanceof z.ZodIntersection) {
    // An intersection's halves each see the other's keys as unknown: strict halves would refuse every value.
    return schema;
  }
  if (schema instanceof z.ZodEffects) return new z.ZodEffects({ ...schema._def, schema: s(schema._def.schema) });
  if (schema instanceof z.ZodPipeline) return new z.ZodPipeline({ ...schema._def, in: s(schema._def.in) });
  if (schema instanceof z.ZodLazy) return z.lazy(() => s(schema._def.getter()));
  if (schema instanceof z.ZodBranded) return new z.ZodBranded({ ...schema._def, type: s(schema._def.type) });
  if (schema instanceof z.ZodReadonly) return new z.ZodReadonly({ ...schema._def, innerType: s(schema._def.innerType) });
  return schema;
}
