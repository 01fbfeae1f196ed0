import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "export", description: "Export a container's filesystem as a tar archive (minid export [OPTIONS] CONTAINER)" },
  args: {
    output: { type: "string", alias: "o", description: "Write to a file, instead of STDOUT" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 1) throw new UserError(`"minid export" requires exactly 1 argument.\nSee 'minid export --help'.`);
    const { exportContainer } = await import("../image/export.ts");
    await exportContainer(getEngine(), a.positionals[0]!, str(a.output));
    return 0;
  },
});
