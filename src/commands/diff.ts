import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "diff", description: "Inspect changes to files or directories on a container's filesystem (minid diff CONTAINER)" },
  args: {},
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 1) throw new UserError(`"minid diff" requires exactly 1 argument.\nSee 'minid diff --help'.`);
    const engine = getEngine();
    const st = engine.containers.find(a.positionals[0]!);
    if (st.broken) throw new UserError(`container ${st.id} has an unreadable record (${st.broken}): remove it with minid rm -f`);
    const { containerChanges } = await import("../image/changes.ts");
    out((await containerChanges(engine, st)).map((c) => `${c.kind} ${c.path}\n`).join(""));
    return 0;
  },
});
