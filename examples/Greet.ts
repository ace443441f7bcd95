/**
 * An example action (not served: the service loads actions/ only). Copy it into actions/
 * to try it: `cp examples/Greet.ts actions/` and `npm start`.
 */
import { z } from "zod";
import { Action, type Fields } from "../src/actions/action.ts";
import { ok } from "../src/actions/responses.ts";

export class Greet extends Action {
  static override description = "Says hello";
  static override schema = z.object({ name: z.string().min(1).max(100).describe("Who to greet") });

  run({ name }: Fields<typeof Greet>) {
    return ok("Greeted", { greeting: `Hello, ${name}!` });
  }
}
