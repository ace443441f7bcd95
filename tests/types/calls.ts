/**
 * Compile-time checks of ctx.call with a generated client (clients/vera-service.ts, made by
 * `npm run client`): good calls type-check, bad ones do not. Each `@ts-expect-error` must meet an
 * error. Nothing here runs.
 */
import { z } from "zod";
import { Action, ok, serviceTarget, type Context, type Fields } from "vera-service";
import { veraService, type VeraServiceActions } from "../../clients/vera-service.ts";

const accounts = veraService("9b1c7a3e-0000-4000-8000-000000000001");

export class Good extends Action.with({ schema: z.object({ username: z.string(), password: z.string() }) }) {
  async run({ username, password }: Fields<typeof Good>, ctx: Context) {
    const login = await ctx.call(accounts, "Login", { username, password });
    if (!login.ok) return ok("no", { reason: login.reason, status: login.statusCode });
    // Login declares its output: the answer's fields are typed.
    const fields: { jwt: string; expires_at: number } = login.fields;
    // Optional fields may be left out; the options are typed too.
    await ctx.call(accounts, "Edit", { jwt: "t", name: "New" }, { timeoutMs: 500 });
    // An untyped target: any action, any fields.
    await ctx.call("any-service-id", "Whatever", { anything: [1, 2] });
    await ctx.call(serviceTarget("id"), "Whatever", null);
    // A target typed by hand.
    const typed = serviceTarget<{ Add: { fields: { a: number; b: number }; result: { sum: number } } }>("calc");
    const sum = await ctx.call(typed, "Add", { a: 1, b: 2 });
    if (sum.ok) {
      const n: number = sum.fields.sum;
      return ok("yes", { n, fields });
    }
    return ok("yes", { fields });
  }
}

export async function bad(ctx: Context): Promise<void> {
  // @ts-expect-error — no such action
  await ctx.call(accounts, "Logn", { username: "a", password: "b" });
  // @ts-expect-error — `password` is required
  await ctx.call(accounts, "Login", { username: "a" });
  // @ts-expect-error — a field Login does not take
  await ctx.call(accounts, "Login", { username: "a", password: "b", admin: true });
  // @ts-expect-error — a field of the wrong type
  await ctx.call(accounts, "Login", { username: 42, password: "b" });
  const typed = serviceTarget<{ Add: { fields: { a: number; b: number }; result: { sum: number } } }>("calc");
  const sum = await ctx.call(typed, "Add", { a: 1, b: 2 });
  // @ts-expect-error — the answer's fields are only there on success
  sum.fields.sum;
  const login = await ctx.call(accounts, "Login", { username: "a", password: "b" });
  if (login.ok) {
    // @ts-expect-error — Login's answer has no such field
    login.fields.token;
  }
  if (sum.ok) {
    // @ts-expect-error — the result has no such field
    sum.fields.product;
  }
}

export type Checked = VeraServiceActions["Login"]["fields"];
