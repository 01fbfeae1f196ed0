import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "network inspect", description: "Display detailed information on one or more networks (minid network inspect [OPTIONS] NETWORK [NETWORK...])" },
  args: {
    format: { type: "string", alias: "f", description: "Format output using a custom template: 'json' or a Go template" },
    verbose: { type: "boolean", alias: "v", description: "Verbose output for diagnostics (accepted; nothing more to show)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (!a.positionals.length) throw new UserError(`"minid network inspect" requires at least 1 argument.\nSee 'minid network inspect --help'.`);
    const fmt = str(a.format);
    const { inspectOutput } = await import("../cli/format.ts");
    if (fmt && fmt !== "json") await inspectOutput([], fmt);
    const engine = getEngine();
    const { ensureDefaults } = await import("../network/networks.ts");
    const { networkDoc } = await import("../network/inspect.ts");
    const store = ensureDefaults(engine);
    const docs: object[] = [];
    let failed = 0;
    for (const ref of a.positionals) {
      const n = store.find(ref);
      if (!n) {
        failed++;
        log.error(`network ${ref} not found`);
        continue;
      }
      docs.push(networkDoc(engine, n));
    }
    const { text, errors } = await inspectOutput(docs, fmt);
    out(text);
    for (const e of errors) log.error(e);
    return failed || errors.length ? 1 : 0;
  },
});
