import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "load", description: "Load images from a tar archive or STDIN (minid load [OPTIONS])" },
  args: {
    input: { type: "string", alias: "i", description: "Read from tar archive file, instead of STDIN" },
    quiet: { type: "boolean", alias: "q", description: "Suppress the load output" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid load" accepts no arguments (use -i FILE).\nSee 'minid load --help'.`);
    const { loadImages } = await import("../image/load.ts");
    const lines = await loadImages(getEngine(), { input: str(a.input) ?? "-" });
    if (!a.quiet) out(lines.map((l) => l + "\n").join(""));
    return 0;
  },
});
