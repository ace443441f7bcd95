/**
 * The schemas the framework accepts, as types: any zod 3.25+ or zod 4 schema, whichever copy of
 * zod the app has. Both implement Standard Schema (`~standard`), which carries the input and
 * output types, so the framework reads types from there rather than from one zod's classes.
 */

/** A schema of any supported zod (its `~standard` member, as Standard Schema v1 defines it). */
export interface AnySchema<Output = unknown> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

/** A zod object schema (zod 3's or zod 4's `z.object(...)`): an action's fields. */
export interface ObjectSchema extends AnySchema<object> {
  readonly shape: Readonly<Record<string, unknown>>;
}

/** `any` stays `any` (a schema of any type gives fields of any type), not unknown. */
type IsAny<T> = 0 extends 1 & T ? true : false;

/** A schema's output type: what a successful parse gives. */
export type OutputOf<S> = IsAny<S> extends true ? any : S extends { readonly "~standard": { readonly types?: infer T } } ? (NonNullable<T> extends { readonly output: infer O } ? O : unknown) : unknown;

/** A schema's input type. */
export type InputOf<S> = IsAny<S> extends true ? any : S extends { readonly "~standard": { readonly types?: infer T } } ? (NonNullable<T> extends { readonly input: infer I } ? I : unknown) : unknown;

/** Fields declared one schema each, by name (a middleware's fields). */
export type SchemaShape = Readonly<Record<string, AnySchema>>;

/** The output of a shape of schemas, optional where a field accepts undefined. */
export type ShapeOutput<S extends SchemaShape> = { [K in keyof S as undefined extends OutputOf<S[K]> ? never : K]: OutputOf<S[K]> } & {
  [K in keyof S as undefined extends OutputOf<S[K]> ? K : never]?: OutputOf<S[K]>;
};
