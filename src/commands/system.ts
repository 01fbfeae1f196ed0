import { groupCommand } from "../cli/group.ts";

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

export default groupCommand("system", "Manage minid", HELP);
