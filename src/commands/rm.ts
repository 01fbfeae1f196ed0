import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/main.ts";
import { log } from "../cli/log.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { removeContainer } from "../container/remove.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove one or more containers (minid rm [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force the removal of a running container (uses SIGKILL)" },
    volumes: { type: "boolean", alias: "v", description: "Remove anonymous volumes (none exist; accepted for compatibility)" },
  },
  run({ args }) {
    requireRoot();
    const names = (args as any).positionals as string[];
    if (!names.length) throw new UserError(`"minid rm" requires at least 1 argument.\nSee 'minid rm --help'.`);
    const engine = getEngine();
    let failed = 0;
    for (const n of names) {
      try {
        const st = engine.containers.find(n);
        removeContainer(engine, st.id, { force: Boolean(args.force) });
        out(`${n}\n`);
      } catch (e) {
        failed++;
        log.error(e instanceof Error ? e.message : String(e));
      }
    }
    return failed ? 1 : 0;
  },
});
