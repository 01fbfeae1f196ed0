import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { eachContainer } from "../container/control.ts";
import { parseSignal, parseTimeout, STOP_FLAGS } from "./stop.ts";

export default defineCommand({
  meta: { name: "restart", description: "Restart one or more containers (minid restart [OPTIONS] CONTAINER [CONTAINER...])" },
  args: STOP_FLAGS,
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const timeout = parseTimeout(a.time);
    const signal = parseSignal(a.signal, "--signal");
    const engine = getEngine();
    const { restartContainer } = await import("../container/start.ts");
    return eachContainer(engine, a.positionals, "restart", async (st, ref) => {
      await restartContainer(engine, st, timeout, signal);
      out(`${ref}\n`);
    });
  },
});
