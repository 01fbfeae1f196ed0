import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "network rm", description: "Remove one or more networks (minid network rm NETWORK [NETWORK...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Do not error if the network does not exist" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (!a.positionals.length) throw new UserError(`"minid network rm" requires at least 1 argument.\nSee 'minid network rm --help'.`);
    const { removeNetwork } = await import("../network/networks.ts");
    const engine = getEngine();
    let failed = 0;
    for (const ref of a.positionals) {
      try {
        removeNetwork(engine, ref);
        out(`${ref}\n`);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        if (a.force && /not found$/.test(e.message)) continue;
        failed++;
        log.error(e.message);
      }
    }
    return failed ? 1 : 0;
  },
});
