import { defineCommand } from "citty";
import { out } from "../cli/output.ts";
import { UserError } from "../util/errors.ts";

const HELP = `Usage:  minid volume COMMAND

Manage volumes

Commands:
  create      Create a volume
  inspect     Display detailed information on one or more volumes
  ls          List volumes
  prune       Remove unused local volumes
  rm          Remove one or more volumes

Run 'minid volume COMMAND --help' for more information on a command.
`;

/** `minid volume` alone: the group's help (subcommands are routed by main). */
export default defineCommand({
  meta: { name: "volume", description: "Manage volumes" },
  args: {},
  run({ args }) {
    const rest = (args as { positionals?: string[] }).positionals ?? [];
    if (rest.length) throw new UserError(`'${rest[0]}' is not a minid volume command.\nSee 'minid volume --help'.`);
    out(HELP);
    return 0;
  },
});
