import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "volume create", description: "Create a volume (minid volume create [OPTIONS] [VOLUME])" },
  args: {
    driver: { type: "string", alias: "d", description: 'Specify volume driver name (default "local")' },
    label: { type: "string", description: "Set metadata for a volume (repeatable)", multiple: true } as any,
    opt: { type: "string", alias: "o", description: "Set driver specific options (repeatable)", multiple: true } as any,
    name: { type: "string", description: "Specify volume name" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length > 1) throw new UserError(`"minid volume create" requires at most 1 argument.\nSee 'minid volume create --help'.`);
    const flagName = str(a.name);
    if (flagName !== undefined && a.positionals[0] !== undefined && flagName !== a.positionals[0]) {
      throw new UserError(`conflicting options: either specify --name or provide positional arg, not both`);
    }
    const { createVolume, parseLabels } = await import("../volume/ops.ts");
    const v = createVolume(getEngine(), flagName ?? a.positionals[0], parseLabels(list(a.label)), str(a.driver) ?? "local", list(a.opt));
    out(`${v.name}\n`);
    return 0;
  },
});
