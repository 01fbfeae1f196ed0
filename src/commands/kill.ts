import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { eachContainer, killContainer } from "../container/control.ts";
import { parseSignal } from "./stop.ts";

export default defineCommand({
  meta: { name: "kill", description: "Kill one or more running containers (minid kill [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    signal: { type: "string", alias: "s", description: "Signal to send to the container (default KILL)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const sig = parseSignal(a.signal, "--signal") ?? 9;
    const engine = getEngine();
    return eachContainer(engine, a.positionals, "kill", async (st, ref) => {
      await killContainer(engine, st, sig);
      out(`${ref}\n`);
    });
  },
});
