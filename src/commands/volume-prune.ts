import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { humanSize } from "../cli/format.ts";
import { argsOf, list } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { confirmed } from "./prune.ts";

export default defineCommand({
  meta: { name: "volume prune", description: "Remove unused local volumes (minid volume prune [OPTIONS])" },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused volumes, not just anonymous ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    filter: { type: "string", description: "Provide filter values (e.g. 'label=<label>')", multiple: true } as any,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid volume prune" accepts no arguments.\nSee 'minid volume prune --help'.`);
    if (!a.force) {
      process.stderr.write(
        `WARNING! This will remove ${a.all ? "all local volumes" : "anonymous local volumes"} not used by at least one container.\nAre you sure you want to continue? [y/N] `,
      );
      if (!(await confirmed())) return 0;
    }
    const { pruneVolumes } = await import("../volume/ops.ts");
    const { deleted, reclaimed } = pruneVolumes(getEngine(), Boolean(a.all), list(a.filter));
    out(deleted.length ? `Deleted Volumes:\n${deleted.map((d) => d + "\n").join("")}\n` : "");
    out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
});
