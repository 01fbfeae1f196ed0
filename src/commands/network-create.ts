import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "network create", description: "Create a network (minid network create [OPTIONS] NETWORK)" },
  args: {
    driver: { type: "string", alias: "d", description: 'Driver to manage the Network (default "bridge")' },
    subnet: { type: "string", description: "Subnet in CIDR format that represents a network segment", multiple: true } as any,
    gateway: { type: "string", description: "IPv4 Gateway for the master subnet", multiple: true } as any,
    internal: { type: "boolean", description: "Restrict external access to the network" },
    label: { type: "string", description: "Set metadata on a network (repeatable)", multiple: true } as any,
    opt: { type: "string", alias: "o", description: "Set driver specific options (com.docker.network.bridge.name=NAME)", multiple: true } as any,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 1) throw new UserError(`"minid network create" requires exactly 1 argument.\nSee 'minid network create --help'.`);
    const subnets = list(a.subnet);
    const gateways = list(a.gateway);
    if (subnets.length > 1 || gateways.length > 1) throw new UserError("minid networks have one IPv4 subnet: give --subnet and --gateway at most once");
    const { createNetwork } = await import("../network/networks.ts");
    const net = createNetwork(getEngine(), {
      name: a.positionals[0]!,
      driver: str(a.driver),
      subnet: subnets[0],
      gateway: gateways[0],
      internal: Boolean(a.internal),
      labels: list(a.label),
      options: list(a.opt),
    });
    out(`${net.id}\n`);
    return 0;
  },
});
