import { defineCommand } from "citty";
import { out } from "../cli/output.ts";
import { UserError } from "../util/errors.ts";

const HELP = `Usage:  minid network COMMAND

Manage networks

Commands:
  connect     Connect a container to a network
  create      Create a network
  disconnect  Disconnect a container from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks

Run 'minid network COMMAND --help' for more information on a command.
`;

/** `minid network` alone: the management group's help (subcommands are routed by main). */
export default defineCommand({
  meta: { name: "network", description: "Manage networks" },
  args: {},
  run({ args }) {
    const rest = (args as { positionals?: string[] }).positionals ?? [];
    if (rest.length) throw new UserError(`'${rest[0]}' is not a minid network command.\nSee 'minid network --help'.`);
    out(HELP);
    return 0;
  },
});
