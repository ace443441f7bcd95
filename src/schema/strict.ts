/**
 * Unknown fields are refused at every depth, not only at the top: zod objects strip unknown
 * keys by default, which would let `{"address": {"city": "x", "typo": 1}}` pass silently.
 * `deepStrict` rebuilds a schema — zod 3's or zod 4's, read from its own definition
 * (src/schema/flavor.ts) — with every default (stripping) object made strict; an object its
 * author declared loose (`.passthrough()`, `z.looseObject`) or with a `.catchall()` keeps that
 * choice. An intersection is left as it is: each half sees the other's keys as unknown.
 */
import { z as z4 } from "zod/v4";
import { isV3, isV4, type V3Schema, type V4Schema } from "./flavor.ts";

export function deepStrict<T>(schema: T): T {
  return strict(schema, new Map()) as T;
}

function strict(schema: unknown, seen: Map<unknown, unknown>): unknown {
  const done = seen.get(schema);
  if (done) return done;
  const result = isV4(schema) ? rebuildV4(schema, seen) : isV3(schema) ? rebuildV3(schema, seen) : schema;
  seen.set(schema, result);
  return result;
}

/** A zod 4 catchall that refuses every key it is asked about (the check reads its def.type). */
const NEVER = z4.never();

function rebuildV4(schema: V4Schema, seen: Map<unknown, unknown>): unknown {
  const s = (inner: unknown) => strict(inner, seen);
  const def = schema._zod.def;
  // As zod's own clone: the same constructor, a new definition; `parent` keeps its metadata (.describe()).
  const clone = (patch: Record<string, unknown>) => {
    const copy = new schema._zod.constr({ ...def, ...patch });
    copy._zod.parent = schema;
    return copy;
  };
  switch (def.type) {
    case "object": {
      // Lazily, as zod 4 allows getters in a shape (a recursive schema): each field is made strict when first read.
      const original = def.shape as Record<string, unknown>;
      const shape: Record<string, unknown> = {};
      for (const key of Object.keys(original)) {
        Object.defineProperty(shape, key, {
          enumerable: true,
          configurable: true,
          get: () => {
            const value = s(original[key]);
            Object.defineProperty(shape, key, { value, enumerable: true, configurable: true, writable: true });
            return value;
          },
        });
      }
      // No catchall: zod's default, stripping. A catchall (never, unknown or a schema) is the author's choice.
      return clone(def.catchall === undefined ? { shape, catchall: NEVER } : { shape });
    }
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      return clone({ innerType: s(def.innerType) });
    case "array":
      return clone({ element: s(def.element) });
    case "set":
    case "record":
    case "map":
      return clone({ valueType: s(def.valueType) });
    case "tuple":
      return clone({ items: (def.items as unknown[]).map(s), rest: def.rest ? s(def.rest) : def.rest });
    case "union":
      return clone({ options: (def.options as unknown[]).map(s) });
    case "pipe":
      // z.preprocess is pipe(transform, schema): the schema is the second half; otherwise the first.
      return (def.in as V4Schema | undefined)?._zod.def.type === "transform" ? clone({ out: s(def.out) }) : clone({ in: s(def.in) });
    case "lazy":
      return clone({ getter: () => s((def.getter as () => unknown)()) });
    default:
      return schema;
  }
}

function rebuildV3(schema: V3Schema, seen: Map<unknown, unknown>): unknown {
  const s = (inner: unknown) => strict(inner, seen);
  const def = schema._def;
  // The schema's own class: the app's copy of zod, whichever that is.
  const Same = schema.constructor as new (def: Record<string, unknown>) => V3Schema;
  const clone = (patch: Record<string, unknown>) => new Same({ ...def, ...patch });
  switch (def.typeName) {
    case "ZodObject": {
      const original = (def.shape as () => Record<string, unknown>)();
      const shape = Object.fromEntries(Object.entries(original).map(([k, v]) => [k, s(v)]));
      const rebuilt = clone({ shape: () => shape });
      const keepsUnknown = def.unknownKeys === "passthrough" || (def.catchall as V3Schema)._def.typeName !== "ZodNever";
      return keepsUnknown ? rebuilt : rebuilt.strict();
    }
    case "ZodOptional":
    case "ZodNullable":
    case "ZodDefault":
    case "ZodCatch":
    case "ZodReadonly":
      return clone({ innerType: s(def.innerType) });
    case "ZodArray":
      return clone({ type: s(def.type) });
    case "ZodSet":
    case "ZodRecord":
    case "ZodMap":
      return clone({ valueType: s(def.valueType) });
    case "ZodTuple":
      return clone({ items: (def.items as unknown[]).map(s), rest: def.rest ? s(def.rest) : null });
    case "ZodUnion":
      return clone({ options: (def.options as unknown[]).map(s) });
    case "ZodDiscriminatedUnion": {
      const options = [...(def.options as unknown[])].map(s);
      return (Same as unknown as { create(d: unknown, o: unknown[]): unknown }).create(def.discriminator, options);
    }
    case "ZodEffects":
      return clone({ schema: s(def.schema) });
    case "ZodPipeline":
      return clone({ in: s(def.in) });
    case "ZodLazy":
      return clone({ getter: () => s((def.getter as () => unknown)()) });
    case "ZodBranded":
      return clone({ type: s(def.type) });
    default:
      return schema;
  }
}
