import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { eachContainer } from "../container/control.ts";

export default defineCommand({
  meta: { name: "start", description: "Start one or more stopped containers (minid start [OPTIONS] CONTAINER [CONTAINER...])" },
  args: {
    attach: { type: "boolean", alias: "a", description: "Attach STDOUT/STDERR and forward signals" },
    interactive: { type: "boolean", alias: "i", description: "Attach container's STDIN" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const engine = getEngine();
    const attach = Boolean(a.attach || a.interactive);
    const { startContainer, startAttached } = await import("../container/start.ts");
    if (!attach) {
      return eachContainer(engine, a.positionals, "start", async (st, ref) => {
        await startContainer(engine, st);
        out(`${ref}\n`);
      });
    }
    if (a.positionals.length !== 1) {
      throw new UserError(a.positionals.length ? "you cannot start and attach multiple containers at once" : `"minid start" requires at least 1 argument.\nSee 'minid start --help'.`);
    }
    const st = engine.containers.find(a.positionals[0]!);
    return startAttached(engine, st, { interactive: Boolean(a.interactive), detachKeys: str(a["detach-keys"]) || undefined });
  },
});
