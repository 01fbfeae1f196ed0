import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "import", description: "Import the contents from a tarball to create a filesystem image (minid import [OPTIONS] FILE|- [REPOSITORY[:TAG]])" },
  args: {
    change: { type: "string", alias: "c", description: "Apply a Dockerfile instruction to the image (repeatable)", multiple: true } as any,
    message: { type: "string", alias: "m", description: "Set commit message for imported image" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const [source, reference, extra] = a.positionals;
    if (!source || extra) throw new UserError(`"minid import" requires 1 or 2 arguments: FILE|- [REPOSITORY[:TAG]]\nSee 'minid import --help'.`);
    const { importImage } = await import("../image/import.ts");
    const img = await importImage(getEngine(), { source, reference, changes: list(a.change), message: str(a.message) });
    out(`${img.id}\n`);
    return 0;
  },
});
