/** The roles commands (account/roles-cli.ts, `vera-service roles`): parsing the arguments and carrying them out. */
import type { CommandContext } from "vera-service";
import { accounts } from "./accounts.ts";
import { normalizeUsername } from "./identifiers.ts";
import { PERMISSION, ROLE_NAME } from "./roles.ts";
import { parseCommandLine } from "vera-service";

export const USAGE = `usage: vera-service roles define <role> <permission>... [--description <text>]
                          grant <username> <role>
                          revoke <username> <role>
                          list [<username>]
                          --help
roles: lower-case letters, digits, - and _ (at most 64); permissions: resource:action, resource:*, or *`;

export type RolesCommand =
  | { kind: "define"; role: string; permissions: string[]; description: string | undefined }
  | { kind: "grant" | "revoke"; username: string; role: string }
  | { kind: "list"; username: string | undefined };

/** The command in the arguments; `help` for --help or -h; or what is wrong with them (exit 2). */
export function parseRolesCommand(args: readonly string[]): RolesCommand | { help: string } | { problem: string } {
  // Strict: an option it does not know (--descripton, -d) is refused, never taken for a name.
  const line = parseCommandLine(args, { usage: USAGE, options: { description: { type: "string" } }, positionals: { max: Infinity } });
  if (!line.ok) return line.exitCode === 0 ? { help: USAGE } : { problem: line.problem };
  const [verb, ...rest] = line.positionals;
  const description = line.values.description;
  const badRole = (role: string | undefined) => (role === undefined || !ROLE_NAME.test(role) ? `not a role name: ${JSON.stringify(role ?? "")}` : undefined);
  if (description !== undefined && verb !== "define") return { problem: "--description is for define only" };
  switch (verb) {
    case "define": {
      const [role, ...permissions] = rest;
      const problem = badRole(role) ?? permissions.map((p) => (PERMISSION.test(p) ? undefined : `not a permission: ${JSON.stringify(p)}`)).find(Boolean);
      if (problem) return { problem };
      return { kind: "define", role: role!, permissions, description };
    }
    case "grant":
    case "revoke": {
      const [username, role, extra] = rest;
      if (!username || extra !== undefined) return { problem: `${verb} takes a username and a role` };
      const problem = badRole(role);
      return problem ? { problem } : { kind: verb, username, role: role! };
    }
    case "list":
      if (rest.length > 1) return { problem: "list takes at most a username" };
      return { kind: "list", username: rest[0] };
    default:
      return { problem: verb === undefined ? "no command" : `unknown command: ${JSON.stringify(verb)}` };
  }
}

export async function executeRolesCommand(command: RolesCommand, { get, print }: CommandContext): Promise<number> {
  const { roles, users } = get(accounts);
  const accountOf = async (username: string) => {
    const user = await users.findLive({ kind: "username", normalized: normalizeUsername(username), typed: username });
    if (!user) print(`no account with the username ${JSON.stringify(username)}`);
    return user;
  };
  switch (command.kind) {
    case "define": {
      const done = await roles.define(command.role, command.permissions, command.description);
      print(`${done} role ${command.role}: ${command.permissions.join(" ") || "(no permissions)"}`);
      return 0;
    }
    case "grant":
    case "revoke": {
      const user = await accountOf(command.username);
      if (!user) return 1;
      const done = command.kind === "grant" ? await roles.grant(user.id, command.role, null) : await roles.revoke(user.id, command.role, null);
      // The operator is not bound by the escalation rule (account/roles.ts): never refused.
      if (typeof done === "object") throw new Error(`the operator's ${command.kind} was refused: ${done.refused}`);
      const said = {
        granted: `granted ${command.role} to ${command.username}`,
        held: `${command.username} already holds ${command.role}`,
        revoked: `revoked ${command.role} from ${command.username}; the account's tokens minted until now no longer work`,
        "not held": `${command.username} does not hold ${command.role}`,
        "no such role": `no role ${command.role}: define it first (npm run roles -- define ${command.role} <permission>...)`,
      }[done];
      print(said);
      if (done === "revoked" && (await roles.starHolders()) === 0) {
        print(`note: no live account holds * now. The actions refuse to do this (the last holder of * keeps it); this command does what the operator says. Grant it again with: npm run roles -- grant <username> admin`);
      }
      return done === "no such role" ? 1 : 0;
    }
    case "list": {
      if (command.username === undefined) {
        for (const role of await roles.list()) print(`${role.name}\t${role.permissions.join(" ") || "-"}\t${role.holders} holder(s)\t${role.description}`);
        return 0;
      }
      const user = await accountOf(command.username);
      if (!user) return 1;
      const held = await roles.holdings(user.id);
      print(`${command.username}: roles ${held.roles.join(" ") || "-"}; permissions ${held.permissions.join(" ") || "-"}`);
      return 0;
    }
  }
}

