import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { requireRoot } from "../engine.ts";
import { argsOf } from "../cli/argv.ts";
import { removeContainer } from "../container/remove.ts";
import { eachContainer } from "../container/control.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove one or more containers (minid rm [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Force the removal of a running container (uses SIGKILL)" },
    volumes: { type: "boolean", alias: "v", description: "Remove anonymous volumes (minid creates none: accepted for compatibility)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const engine = getEngine();
    return eachContainer(engine, a.positionals, "rm", (st, ref) => {
      removeContainer(engine, st.id, { force: Boolean(a.force) });
      out(`${ref}\n`);
    });
  },
});
