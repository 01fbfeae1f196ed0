import { defineCommand } from "citty";
import { out } from "../cli/output.ts";
import { UserError } from "../util/errors.ts";

const HELP = `Usage:  minid system COMMAND

Manage minid

Commands:
  df          Show disk usage
  events      Get real time events from the server
  info        Display system-wide information
  prune       Remove unused data
  restore     Start the containers whose restart policy asks for it (after a reboot)
  service-unit  Print a systemd unit that runs minid system restore at boot

Run 'minid system COMMAND --help' for more information on a command.
`;

/** `minid system` alone: the group's help (subcommands are routed by main). */
export default defineCommand({
  meta: { name: "system", description: "Manage minid" },
  args: {},
  run({ args }) {
    const rest = (args as { positionals?: string[] }).positionals ?? [];
    if (rest.length) throw new UserError(`'${rest[0]}' is not a minid system command.\nSee 'minid system --help'.`);
    out(HELP);
    return 0;
  },
});
