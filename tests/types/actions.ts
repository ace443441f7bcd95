/**
 * Compile-time checks of the action API, type-checked by `npm test` (tsc --noEmit covers
 * tests/): each `@ts-expect-error` must meet an error, or tsc fails on the unused directive.
 * Nothing here runs.
 */
import { z } from "zod";
import { Action, middleware, ok, provider, type Context, type Fields } from "vera-service";
import { signedIn, type SignedInContext } from "../../account/index.ts";

const named = z.object({ name: z.string() });

// Good: fields from the schema, no context.
export class Hello extends Action.with({ schema: named }) {
  run({ name }: Fields<typeof Hello>) {
    return ok("hi", { name });
  }
}

// Good: behind the guard, the signed-in context.
export class Me extends Action.with({ schema: named, use: [signedIn] }) {
  run(_fields: Fields<typeof Me>, ctx: SignedInContext) {
    return ok("me", { id: ctx.user.id, jti: ctx.claims.jti });
  }
}

// Bad: fields that are not the schema's.
export class WrongFields extends Action.with({ schema: named }) {
  // @ts-expect-error — `count` is not in the schema
  run(fields: { count: number }) {
    return ok("n", { n: fields.count });
  }
}

// Bad: a field the schema lacks, beside the ones it has.
export class ExtraField extends Action.with({ schema: named }) {
  // @ts-expect-error — `age` is not in the schema
  run(fields: { name: string; age: number }) {
    return ok("n", { n: fields.age });
  }
}

// Bad: the signed-in context without the guard (the case: ctx.user would be undefined).
export class NoGuard extends Action.with({ schema: named }) {
  // @ts-expect-error — no middleware adds `user`
  run(fields: { count: number }, ctx: SignedInContext) {
    return ok("n", { n: fields.count, id: ctx.user.id });
  }
}

// Bad: the right fields, but a context the action's middleware does not give.
export class NoGuardRightFields extends Action.with({ schema: named }) {
  // @ts-expect-error — no middleware adds `user`
  run(fields: Fields<typeof NoGuardRightFields>, ctx: SignedInContext) {
    return ok(fields.name, { id: ctx.user.id });
  }
}

// Bad: reading what the base context does not have.
export class ReadsUser extends Action.with({ schema: named }) {
  run(_fields: Fields<typeof ReadsUser>, ctx: Context) {
    // @ts-expect-error — an unguarded context has no user
    return ok("n", { id: ctx.user.id });
  }
}

// A custom middleware's addition reaches run, typed.
const tenant = middleware<{ tenant: string }>({
  name: "tenant",
  fields: { tenant: z.string() },
  handle: ({ fields }, next) => next({ tenant: String(fields.tenant) }),
});
export class Tenanted extends Action.with({ schema: named, use: [tenant, signedIn] }) {
  run(_fields: Fields<typeof Tenanted>, ctx: Context<{ tenant: string; user: SignedInContext["user"]; claims: SignedInContext["claims"] }>) {
    return ok("t", { tenant: ctx.tenant, id: ctx.user.id });
  }
}
export class TenantOnly extends Action.with({ schema: named, use: [tenant] }) {
  // @ts-expect-error — `tenant` adds no user
  run(_fields: Fields<typeof TenantOnly>, ctx: SignedInContext) {
    return ok("t", { id: ctx.user.id });
  }
}

// Providers: ctx.get is typed by the provider.
const clock = provider({ name: "clock", start: () => ({ now: () => 42 }) });
export class Clocked extends Action.with({ schema: named, needs: [clock] }) {
  run(_fields: Fields<typeof Clocked>, ctx: Context) {
    const n: number = ctx.get(clock).now();
    // @ts-expect-error — the clock has no `later`
    ctx.get(clock).later();
    return ok("t", { n });
  }
}
