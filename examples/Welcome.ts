/**
 * An example guarded action (not served: this repository's service loads app/actions/ only); its test is
 * examples/Welcome.test.ts. Copy both into your app to start from them.
 */
import { z } from "zod";
import { Action, ok, type Fields } from "vera-service";
import { signedIn, type SignedInContext } from "vera-service/account";

export class Welcome extends Action.with({
  description: "Greets the signed-in user",
  use: [signedIn],
  schema: z.object({ punctuation: z.enum(["!", "."]).default("!") }),
  output: z.object({ greeting: z.string() }),
}) {
  run({ punctuation }: Fields<typeof Welcome>, ctx: SignedInContext) {
    return ok("Welcomed", { greeting: `Welcome back, ${ctx.user.name}${punctuation}` });
  }
}
