import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "network connect", description: "Connect a container to a network (minid network connect [OPTIONS] NETWORK CONTAINER)" },
  args: {
    ip: { type: "string", description: "IPv4 address (e.g. 172.30.100.104)" },
    alias: { type: "string", description: "Add network-scoped alias for the container (repeatable)", multiple: true } as any,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 2) throw new UserError(`"minid network connect" requires exactly 2 arguments.\nSee 'minid network connect --help'.`);
    const { connectContainer } = await import("../network/hotplug.ts");
    connectContainer(getEngine(), a.positionals[0]!, a.positionals[1]!, { ip: str(a.ip), aliases: list(a.alias) });
    return 0;
  },
});
