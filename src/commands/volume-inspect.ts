import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "volume inspect", description: "Display detailed information on one or more volumes (minid volume inspect [OPTIONS] VOLUME [VOLUME...])" },
  args: {
    format: { type: "string", alias: "f", description: "Format output using a custom template: 'json' or a Go template" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (!a.positionals.length) throw new UserError(`"minid volume inspect" requires at least 1 argument.\nSee 'minid volume inspect --help'.`);
    const fmt = str(a.format);
    const { inspectOutput } = await import("../cli/format.ts");
    if (fmt && fmt !== "json") await inspectOutput([], fmt);
    const engine = getEngine();
    const { getVolume, inspectVolume } = await import("../volume/ops.ts");
    const docs: object[] = [];
    let failed = 0;
    for (const n of a.positionals) {
      try {
        docs.push(inspectVolume(engine, getVolume(engine, n)));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        failed++;
        log.error(`No such volume: ${n}`);
      }
    }
    const { text, errors } = await inspectOutput(docs, fmt);
    out(text);
    for (const e of errors) log.error(e);
    return failed || errors.length ? 1 : 0;
  },
});
