import { z } from "zod";
import { Action, ok, type Fields } from "vera-service";

/** An action: its class name is its name; its schema is what callers may send (anything else is refused). */
export class Greet extends Action.with({
  description: "Says hello",
  schema: z.object({ name: z.string().min(1).max(100).describe("Who to greet") }),
  output: z.object({ greeting: z.string() }),
}) {
  run({ name }: Fields<typeof Greet>) {
    return ok("Greeted", { greeting: `Hello, ${name}!` });
  }
}
