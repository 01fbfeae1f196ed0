import { groupCommand } from "../cli/group.ts";

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

export default groupCommand("network", "Manage networks", HELP);
