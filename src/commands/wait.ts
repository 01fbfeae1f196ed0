import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { eachContainer, waitContainer } from "../container/control.ts";

export default defineCommand({
  meta: { name: "wait", description: "Block until one or more containers stop, then print their exit codes (minid wait CONTAINER [CONTAINER...])" },
  args: {},
  async run({ args }) {
    const a = argsOf(args);
    const engine = getEngine();
    return eachContainer(engine, a.positionals, "wait", async (st) => {
      out(`${await waitContainer(engine, st)}\n`);
    });
  },
});
