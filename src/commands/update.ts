import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { RESOURCE_FLAGS, resourceOptions } from "../cli/container-flags.ts";
import { eachContainer } from "../container/control.ts";

const { "oom-kill-disable": _o, ...FLAGS } = RESOURCE_FLAGS;

export default defineCommand({
  meta: { name: "update", description: "Update configuration of one or more containers (minid update [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    ...FLAGS,
    restart: { type: "string", description: "Restart policy to apply when a container exits" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const { updateContainer, hasUpdate } = await import("../container/update.ts");
    const flags = { ...resourceOptions(a), oomKillDisable: undefined, restart: str(a.restart) };
    if (!hasUpdate(flags)) throw new UserError("You must provide one or more flags when using this command.");
    const engine = getEngine();
    return eachContainer(engine, a.positionals, "update", async (st, ref) => {
      await updateContainer(engine, st, flags);
      out(`${ref}\n`);
    });
  },
});
