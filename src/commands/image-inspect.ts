import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "image inspect", description: "Display detailed information on one or more images (minid image inspect [OPTIONS] IMAGE [IMAGE...])" },
  args: {
    format: { type: "string", alias: "f", description: "Format output: json (default)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (!a.positionals.length) throw new UserError(`"minid image inspect" requires at least 1 argument.\nSee 'minid image inspect --help'.`);
    const fmt = str(a.format);
    if (fmt && fmt !== "json" && fmt !== "{{json .}}") throw new UserError(`unsupported format "${fmt}" (use json)`);
    const { inspectImage } = await import("../image/inspect.ts");
    const docs: object[] = [];
    let failed = 0;
    for (const n of a.positionals) {
      try {
        docs.push(...inspectImage(getEngine(), n));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        failed++;
        log.error(e.message);
      }
    }
    out(JSON.stringify(docs, null, 4) + "\n");
    return failed ? 1 : 0;
  },
});
