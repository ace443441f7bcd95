/**
 * An example action (not served: the service loads actions/ only). Copy it into actions/
 * to try it: `cp examples/Greet.ts actions/` and `npm run dev`.
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
