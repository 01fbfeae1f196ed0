import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { log } from "../util/log.ts";

export default defineCommand({
  meta: {
    name: "system restore",
    description: "Start every container whose restart policy asks for it, as after a reboot (minid system restore)",
  },
  args: {},
  async run({ args }) {
    requireRoot();
    if (argsOf(args).positionals.length) throw new UserError(`"minid system restore" accepts no arguments.\nSee 'minid system restore --help'.`);
    const { restoreContainers } = await import("../container/restore.ts");
    let failed = 0;
    await restoreContainers(
      getEngine(),
      (st) => out(`${st.name}\n`),
      (st, e) => {
        failed++;
        log.error(`${st.name}: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
    return failed ? 1 : 0;
  },
});
