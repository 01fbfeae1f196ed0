import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "volume rm", description: "Remove one or more volumes (minid volume rm [OPTIONS] VOLUME [VOLUME...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force the removal of one or more volumes (a missing one is no error)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (!a.positionals.length) throw new UserError(`"minid volume rm" requires at least 1 argument.\nSee 'minid volume rm --help'.`);
    const engine = getEngine();
    const { removeVolume } = await import("../volume/ops.ts");
    let failed = 0;
    for (const n of a.positionals) {
      try {
        removeVolume(engine, n, Boolean(a.force));
        out(`${n}\n`);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        failed++;
        log.error(e.message);
      }
    }
    return failed ? 1 : 0;
  },
});
