import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: {
    name: "cp",
    description:
      "Copy files/folders between a container and the local filesystem (minid cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-; minid cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH)",
  },
  args: {
    archive: { type: "boolean", alias: "a", description: "Archive mode (copy all uid/gid information)" },
    "follow-link": { type: "boolean", alias: "L", description: "Always follow symbol link in SRC_PATH" },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output during copy (minid prints none)" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length !== 2) throw new UserError(`"minid cp" requires exactly 2 arguments.\nSee 'minid cp --help'.`);
    const { copyFiles } = await import("../container/cp.ts");
    await copyFiles(getEngine(), a.positionals[0]!, a.positionals[1]!, { archive: Boolean(a.archive), followLink: Boolean(a["follow-link"]) });
    return 0;
  },
});
