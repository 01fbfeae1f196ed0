import { groupCommand } from "../cli/group.ts";

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

export default groupCommand("volume", "Manage volumes", HELP);
