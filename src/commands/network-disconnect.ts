import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "network disconnect", description: "Disconnect a container from a network (minid network disconnect [OPTIONS] NETWORK CONTAINER)" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force the container to disconnect from a network" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 2) throw new UserError(`"minid network disconnect" requires exactly 2 arguments.\nSee 'minid network disconnect --help'.`);
    const { disconnectContainer } = await import("../network/hotplug.ts");
    disconnectContainer(getEngine(), a.positionals[0]!, a.positionals[1]!, Boolean(a.force));
    return 0;
  },
});
