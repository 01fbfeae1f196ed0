import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { humanSize } from "../cli/format.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { confirmed } from "./prune.ts";

export default defineCommand({
  meta: { name: "image prune", description: "Remove unused images (minid image prune [OPTIONS])" },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused images, not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid image prune" accepts no arguments.\nSee 'minid image prune --help'.`);
    if (!a.force) {
      process.stderr.write(
        a.all
          ? "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "
          : "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ",
      );
      if (!(await confirmed())) return 0;
    }
    const { pruneImages } = await import("../system/prune.ts");
    const r = pruneImages(getEngine(), Boolean(a.all));
    out(r.lines.length ? `Deleted Images:\n${r.lines.map((l) => `${l}\n`).join("")}\n` : "");
    out(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    return 0;
  },
});
