import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "port", description: "List port mappings or a specific mapping for the container (minid port CONTAINER [PRIVATE_PORT[/PROTO]])" },
  args: {},
  async run({ args }) {
    const a = argsOf(args);
    const [ref, spec, ...extra] = a.positionals;
    if (!ref || extra.length) throw new UserError(`"minid port" requires at least 1 and at most 2 arguments.\nSee 'minid port --help'.`);
    const engine = getEngine();
    const { portCommand } = await import("../network/port-status.ts");
    const lines = portCommand(engine, engine.containers.find(ref), spec, ref);
    if (lines.length) out(lines.join("\n") + "\n");
    return 0;
  },
});
