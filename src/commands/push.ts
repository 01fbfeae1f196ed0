import { defineCommand } from "citty";
import { getEngine, globals } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

/** As `docker push`: a failure exits 1.*/
export const userErrorExit = 1;

export default defineCommand({
  meta: { name: "push", description: "Upload an image to the registry its name points at (minid push [OPTIONS] NAME[:TAG])" },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Suppress verbose output" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const [name, extra] = a.positionals;
    if (!name || extra) throw new UserError(`"minid push" requires exactly 1 argument: NAME[:TAG]\nSee 'minid push --help'.`);
    requireRoot();
    const { pushImage } = await import("../image/push.ts");
    const res = await pushImage(getEngine(), { reference: name, quiet: Boolean(a.quiet), insecure: globals.insecureRegistries });
    out(`${res.tag}: digest: ${res.digest} size: ${res.size}\n`);
    return 0;
  },
});
