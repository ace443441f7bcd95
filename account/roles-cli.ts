/**
 * `vera-service roles <command>`: what no action may do with roles, on the service's own
 * database settings — a command the account module brings (its provider's `commands`), so an app
 * that serves the account actions has it. The first administrator is made this way:
 * `vera-service roles grant alice admin`.
 *
 *   define <role> <permission>... [--description <text>]   create a role, or replace its permissions
 *   grant <username> <role>                                 give an account a role
 *   revoke <username> <role>                                take it back (the account's tokens minted before stop working)
 *   list [<username>]                                       the roles, or one account's roles and permissions
 *
 * Exit codes: 0 done (also when there was nothing to change, and for --help), 1 an unknown
 * account or role or a failure, 2 a usage or configuration problem (an unknown option too).
 */
import { runCommand } from "vera-service";
import { accounts } from "./accounts.ts";
import { USAGE, executeRolesCommand, parseRolesCommand } from "./roles-command.ts";

export async function roles(args: readonly string[]): Promise<number> {
  const parsed = parseRolesCommand(args);
  if ("help" in parsed) {
    process.stdout.write(`${parsed.help}\n`);
    return 0;
  }
  if ("problem" in parsed) {
    process.stderr.write(`${parsed.problem}\n${USAGE}\n`);
    return 2;
  }
  return runCommand([accounts], (ctx) => executeRolesCommand(parsed, ctx));
}
