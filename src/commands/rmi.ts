import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/main.ts";
import { log } from "../cli/log.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { removeImage } from "../image/remove.ts";

export default defineCommand({
  meta: { name: "rmi", description: "Remove one or more images (minid rmi [OPTIONS] IMAGE [IMAGE...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force removal of the image" },
  },
  run({ args }) {
    requireRoot();
    const names = (args as any).positionals as string[];
    if (!names.length) throw new UserError(`"minid rmi" requires at least 1 argument.\nSee 'minid rmi --help'.`);
    let failed = 0;
    for (const n of names) {
      try {
        out(removeImage(getEngine(), n, Boolean(args.force)).map((l) => l + "\n").join(""));
      } catch (e) {
        failed++;
        log.error(e instanceof Error ? e.message : String(e));
      }
    }
    return failed ? 1 : 0;
  },
});
