import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "info", description: "Display system-wide information (minid info [OPTIONS])" },
  args: {
    format: { type: "string", alias: "f", description: "Format the output using the given Go template ('json' or e.g. '{{.Driver}}')" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid info" accepts no arguments.\nSee 'minid info --help'.`);
    const { engineInfo, infoText } = await import("../system/info.ts");
    const info = await engineInfo(getEngine());
    const fmt = str(a.format);
    if (!fmt) {
      out(infoText(info));
      return 0;
    }
    const { inspectOutput } = await import("../cli/format.ts");
    const { text, errors } = await inspectOutput([info], fmt === "json" ? "{{json .}}" : fmt);
    out(text);
    if (errors.length) throw new UserError(errors[0]!);
    return 0;
  },
});
