import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { eachContainer } from "../container/control.ts";

export default defineCommand({
  meta: { name: "pause", description: "Pause all processes within one or more containers (minid pause CONTAINER [CONTAINER...])" },
  args: {},
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const engine = getEngine();
    const { pauseContainer } = await import("../container/pause.ts");
    return eachContainer(engine, a.positionals, "pause", async (st, ref) => {
      await pauseContainer(engine, st);
      out(`${ref}\n`);
    });
  },
});
