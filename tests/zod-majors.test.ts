/**
 * One zod, whichever the app has (src/schema/): the same action written with zod 3 and with zod 4
 * is validated, refused and published the same. Nothing is decided by `instanceof` against the
 * framework's own copy of zod: the schemas are read from their own definitions, so an app's copy
 * (here zod 3.25 installed as the package "zod3", beside the framework's zod 4) works as well.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z as z3 } from "zod3";
import { z as z4 } from "zod";
import { Action, middleware, ok, subscriber, type Context, type Fields } from "vera-service";
import { dispatcherFor } from "./support/dispatcher.ts";
import { publish, register } from "../src/actions/registry.ts";
import { deepStrict } from "../src/schema/strict.ts";
import { parseWith } from "../src/schema/parse.ts";
import { toJsonSchema } from "../src/schema/json-schema.ts";
import { zodMajor } from "../src/schema/flavor.ts";

/** The same schema written with zod 4 and with zod 3 (their APIs agree on everything used here). */
const order4 = z4.object({
  sku: z4.string().min(1).max(20).describe("Stock-keeping unit"),
  quantity: z4.number().int().min(1).max(99),
  email: z4.string().email().optional(),
  size: z4.enum(["S", "M", "L"]).default("M"),
  gift: z4.boolean().default(false),
  address: z4.object({ city: z4.string(), zip: z4.string().regex(/^\d{5}$/) }).optional(),
  lines: z4.array(z4.object({ note: z4.string().max(50) })).max(3).optional(),
  tags: z4.record(z4.string(), z4.string()).optional(),
  extra: z4.object({ anything: z4.string() }).passthrough().optional(),
  code: z4.union([z4.string(), z4.number()]).optional(),
  kind: z4.literal("retail").optional(),
});
const order3 = z3.object({
  sku: z3.string().min(1).max(20).describe("Stock-keeping unit"),
  quantity: z3.number().int().min(1).max(99),
  email: z3.string().email().optional(),
  size: z3.enum(["S", "M", "L"]).default("M"),
  gift: z3.boolean().default(false),
  address: z3.object({ city: z3.string(), zip: z3.string().regex(/^\d{5}$/) }).optional(),
  lines: z3.array(z3.object({ note: z3.string().max(50) })).max(3).optional(),
  tags: z3.record(z3.string(), z3.string()).optional(),
  extra: z3.object({ anything: z3.string() }).passthrough().optional(),
  code: z3.union([z3.string(), z3.number()]).optional(),
  kind: z3.literal("retail").optional(),
});

class Order4 extends Action.with({ description: "Takes an order", schema: order4, output: z4.object({ sku: z4.string(), quantity: z4.number() }) }) {
  run({ sku, quantity, size }: Fields<typeof Order4>) {
    const inferred: { sku: string; quantity: number; size: "S" | "M" | "L" } = { sku, quantity, size };
    return ok("Ordered", { sku: inferred.sku, quantity: inferred.quantity });
  }
}

class Order3 extends Action.with({ description: "Takes an order", schema: order3, output: z3.object({ sku: z3.string(), quantity: z3.number() }) }) {
  run({ sku, quantity, size }: Fields<typeof Order3>) {
    // The fields' types come from zod 3's own inference, as from zod 4's.
    const inferred: { sku: string; quantity: number; size: "S" | "M" | "L" } = { sku, quantity, size };
    return ok("Ordered", { sku: inferred.sku, quantity: inferred.quantity });
  }
}

const BAD_INPUTS: Array<Record<string, unknown>> = [
  { sku: "W-1", quantity: 3, color: "red" },
  { sku: "W-1", quantity: 3, address: { city: "Oslo", zip: "12345", typo: 1 } },
  { sku: "W-1", quantity: 3, lines: [{ note: "a" }, { note: "b", extra: true }] },
  { quantity: 3 },
  { sku: "", quantity: 0 },
  { sku: "W-1", quantity: 1.5 },
  { sku: "W-1", quantity: "3" },
  { sku: "W-1", quantity: 100, email: "not-an-email" },
  { sku: "W-1", quantity: 2, size: "XL" },
  { sku: "W-1", quantity: 2, lines: [{ note: "a" }, { note: "b" }, { note: "c" }, { note: "d" }] },
  { sku: "W-1", quantity: 2, address: { city: "Oslo", zip: "x" } },
  { sku: "W-1", quantity: 2, tags: { a: 1 } },
  { sku: "W-1", quantity: 2, code: true },
  { sku: "W-1", quantity: 2, kind: "wholesale" },
  { sku: "a".repeat(21), quantity: 2 },
  { sku: "W-1", quantity: 2, email: "a@b.c", address: { city: 3, zip: "1" } },
];

test("the schemas are told apart by their own definitions: zod 3 and zod 4, and neither for anything else", () => {
  assert.equal(zodMajor(order3), 3);
  assert.equal(zodMajor(order4), 4);
  assert.equal(zodMajor({ shape: {} }), undefined);
  assert.equal(zodMajor(null), undefined);
});

test("the same app on zod 3 and on zod 4: its action answers, and an unknown field is refused at every depth with either", async () => {
  const d = dispatcherFor([Order4, Order3]);
  const call = (action: string, fields: unknown) => d.dispatch({ action, fields, response_ref: "r" });
  for (const action of ["Order3", "Order4"]) {
    const good = await call(action, { sku: "W-1", quantity: 3 });
    assert.equal(good.status_code, 200, `${action}: ${good.message}`);
    assert.deepEqual(good.fields, { sku: "W-1", quantity: 3 });
    const unknown = await call(action, { sku: "W-1", quantity: 3, color: "red" });
    assert.equal(unknown.status_code, 400, action);
    assert.match(unknown.message!, /color: is not a known field/);
    const nested = await call(action, { sku: "W-1", quantity: 3, address: { city: "Oslo", zip: "12345", typo: 1 } });
    assert.match(nested.message!, /address\.typo: is not a known field/, action);
    const inArray = await call(action, { sku: "W-1", quantity: 3, lines: [{ note: "a" }, { note: "b", extra: true }] });
    assert.match(inArray.message!, /lines\.1\.extra: is not a known field/, action);
    // A loose object is its author's choice: its unknown keys are kept.
    assert.equal((await call(action, { sku: "W-1", quantity: 3, extra: { anything: "x", more: 1 } })).status_code, 200, action);
  }
  await d.drain();
});

test("every bad input gets the same 400, word for word, from the zod 3 and the zod 4 action", async () => {
  const d = dispatcherFor([Order4, Order3]);
  for (const fields of BAD_INPUTS) {
    const [three, four] = await Promise.all(["Order3", "Order4"].map((action) => d.dispatch({ action, fields, response_ref: "r" })));
    assert.equal(four!.status_code, 400, JSON.stringify(fields));
    assert.deepEqual(three, four, JSON.stringify(fields));
    assert.doesNotMatch(four!.message!, /Invalid input|expected [a-z]+, received|Unrecognized|Too (small|big)/, `plain words, not zod's: ${four!.message}`);
  }
  await d.drain();
});

test("the published schema is the same with either zod: fields, required, descriptions, output", () => {
  const three = register(Order3, "(zod 3)");
  const four = register(Order4, "(zod 4)");
  assert.deepEqual(publish(three), publish(four));
  const published = publish(four);
  assert.deepEqual(published.required, ["sku", "quantity"]);
  assert.deepEqual(published.fields.sku, { type: "string", minLength: 1, maxLength: 20, description: "Stock-keeping unit" });
  assert.deepEqual(published.fields.quantity, { type: "integer", minimum: 1, maximum: 99, description: "quantity" });
  assert.equal((published.fields.address as { additionalProperties?: unknown }).additionalProperties, false, "strict at depth: unknown fields are refused");
  assert.equal((published.fields.extra as { additionalProperties?: unknown }).additionalProperties, true, "a loose object says so");
  assert.deepEqual(published.output, { type: "object", properties: { sku: { type: "string" }, quantity: { type: "number" } }, required: ["sku", "quantity"], additionalProperties: false });
});

test("a middleware's fields from one zod and an action's from the other: both validated, both published", async () => {
  const tagged = middleware<{ tag: string }>({
    name: "tagged",
    fields: { tag: z4.string().min(2).describe("A tag") },
    handle: ({ fields }, next) => next({ tag: String(fields.tag) }),
  });
  class Tagged extends Action.with({ schema: z3.object({ note: z3.string() }), use: [tagged] }) {
    run({ note }: Fields<typeof Tagged>, ctx: Context<{ tag: string }>) {
      return ok("Tagged", { note, tag: ctx.tag });
    }
  }
  const d = dispatcherFor([Tagged]);
  const call = (fields: unknown) => d.dispatch({ action: "Tagged", fields, response_ref: "r" });
  assert.deepEqual((await call({ note: "n", tag: "ab" })).fields, { note: "n", tag: "ab" });
  assert.equal((await call({ note: "n", tag: "a" })).message, "Invalid fields: tag: must be at least 2 characters");
  assert.equal((await call({ note: "n" })).message, "Invalid fields: tag: is required");
  assert.match((await call({ note: "n", tag: "ab", other: 1 })).message!, /other: is not a known field/);
  const published = publish(register(Tagged, "(mixed)"));
  assert.deepEqual(Object.keys(published.fields), ["tag", "note"], "the middleware's first");
  assert.deepEqual(published.required, ["tag", "note"]);
  await d.drain();
});

test("deepStrict keeps what it does not rebuild: zod 4 descriptions, recursive getters, refinements and transforms", () => {
  const Category: z4.ZodType<{ name: string; children: unknown[] }> = z4.object({
    name: z4.string(),
    get children() {
      return z4.array(Category);
    },
  });
  const strict = deepStrict(Category);
  assert.equal(parseWith(strict, { name: "a", children: [{ name: "b", children: [] }] }).success, true);
  const deep = parseWith(strict, { name: "a", children: [{ name: "b", children: [], x: 1 }] });
  assert.ok(!deep.success && deep.issues.some((i) => i.unknownKeys?.includes("x")), "refused at the second level of a recursive schema");

  const refined = z4.object({ a: z4.string() }).refine((v) => v.a !== "no", "not that one");
  assert.deepEqual(parseWith(deepStrict(refined), { a: "no" }), { success: false, issues: [{ path: [], message: "not that one" }] });
  const transformed = z4.object({ a: z4.string() }).transform((v) => v.a.length);
  assert.deepEqual(parseWith(deepStrict(transformed), { a: "abc" }), { success: true, data: 3 });
  assert.equal(parseWith(deepStrict(transformed), { a: "abc", b: 1 }).success, false);
  const preprocessed = z4.preprocess((v) => v, z4.object({ a: z4.string() }));
  assert.equal(parseWith(deepStrict(preprocessed), { a: "abc", b: 1 }).success, false);
  assert.deepEqual((toJsonSchema(deepStrict(z4.object({ a: z4.string().describe("the a") }))) as { properties: unknown }).properties, { a: { type: "string", description: "the a" } });
});

test("zod 3: the same rebuild, through the schema's own classes", () => {
  const lazy: z3.ZodType<{ name: string; children: unknown[] }> = z3.lazy(() => z3.object({ name: z3.string(), children: z3.array(lazy) }));
  const deep = parseWith(deepStrict(lazy), { name: "a", children: [{ name: "b", children: [], x: 1 }] });
  assert.ok(!deep.success && deep.issues.some((i) => i.unknownKeys?.includes("x")));
  const union = z3.discriminatedUnion("kind", [z3.object({ kind: z3.literal("a"), n: z3.number() }), z3.object({ kind: z3.literal("b") })]);
  assert.equal(parseWith(deepStrict(union), { kind: "a", n: 1, x: 2 }).success, false);
  assert.equal(parseWith(deepStrict(union), { kind: "b" }).success, true);
});

test("an action whose schema is not a zod object is refused when it is registered, naming it", () => {
  class NotAnObject extends Action.with({ schema: z4.string() as never }) {
    run() {
      return ok("x");
    }
  }
  assert.throws(() => register(NotAnObject, "(test)"), /NotAnObject: its schema must be a zod object/);
});

test("nullable fields publish the same from zod 3, zod 4, and the zod/v4 inside zod 3.25 (what the account module's schemas are made with in an app on zod 3)", async () => {
  const { z: z3v4 } = await import("zod3/v4");
  const fields = <Z extends typeof z4>(z: Z) => z.object({ at: z.number().nullable(), name: z.string().min(2).nullable(), box: z.object({ x: z.number() }).nullable() });
  const four = toJsonSchema(fields(z4));
  assert.deepEqual(toJsonSchema(fields(z3v4 as unknown as typeof z4)), four);
  assert.deepEqual(toJsonSchema(z3.object({ at: z3.number().nullable(), name: z3.string().min(2).nullable(), box: z3.object({ x: z3.number() }).nullable() })), four);
  assert.deepEqual((four.properties as Record<string, unknown>).at, { type: ["number", "null"] });
});

test("a subscriber's schema of either zod is taken; anything else is refused when the subscriber is declared", () => {
  for (const schema of [z3.object({ sku: z3.string() }), z4.object({ sku: z4.string() })]) {
    const declared = subscriber({ name: "pack", events: ["order.placed"], schema, handle: () => undefined });
    assert.deepEqual(parseWith(declared.schema, { sku: "W-1" }), { success: true, data: { sku: "W-1" } });
    assert.equal(parseWith(declared.schema, { sku: 7 }).success, false);
  }
  assert.throws(() => subscriber({ name: "odd", events: ["x"], schema: { "~standard": { version: 1, vendor: "other" } }, handle: () => undefined }), /subscriber "odd" is not a zod schema/);
});
