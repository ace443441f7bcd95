/**
 * An example action (not served: this repository's service loads app/actions/ only). Copy it
 * there to try it: `cp examples/Greet.ts app/actions/` and `npm run dev`. `vera-service init`
 * writes the same action into a new service (templates/init/actions/Greet.ts).
 */
import { z } from "zod";
import { Action, ok, type Fields } from "vera-service";

export class Greet extends Action.with({
  description: "Says hello",
  schema: z.object({ name: z.string().min(1).max(100).describe("Who to greet") }),
  output: z.object({ greeting: z.string() }),
}) {
  run({ name }: Fields<typeof Greet>) {
    return ok("Greeted", { greeting: `Hello, ${name}!` });
  }
}
