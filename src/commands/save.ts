import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";

export default defineCommand({
  meta: { name: "save", description: "Save one or more images to a tar archive (streamed to STDOUT by default) (minid save [OPTIONS] IMAGE [IMAGE...])" },
  args: {
    output: { type: "string", alias: "o", description: "Write to a file, instead of STDOUT" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const { saveImages } = await import("../image/save.ts");
    await saveImages(getEngine(), a.positionals, str(a.output));
    return 0;
  },
});
