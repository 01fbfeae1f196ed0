import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, list } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { confirmed } from "./prune.ts";

export default defineCommand({
  meta: { name: "network prune", description: "Remove all unused networks (minid network prune [OPTIONS])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    filter: { type: "string", description: 'Provide filter values (e.g. "until=24h", "label=k=v")', multiple: true } as any,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid network prune" accepts no arguments.\nSee 'minid network prune --help'.`);
    const checks: ((n: import("../network/store.ts").NetworkRecord) => boolean)[] = [];
    for (const f of list(a.filter)) {
      const m = /^(until|label|label!)=(.+)$/.exec(f);
      if (!m) throw new UserError(`invalid filter '${f}' (supported: until=<timestamp|duration>, label=KEY[=VALUE], label!=KEY[=VALUE])`);
      if (m[1] === "until") {
        const d = /^(\d+)(s|m|h)$/.exec(m[2]!);
        const until = d ? Date.now() - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[d[2] as "s" | "m" | "h"] : Date.parse(m[2]!);
        if (Number.isNaN(until)) throw new UserError(`invalid filter '${f}': bad timestamp`);
        checks.push((n) => Date.parse(n.created) < until);
      } else {
        const [k, v] = m[2]!.includes("=") ? [m[2]!.slice(0, m[2]!.indexOf("=")), m[2]!.slice(m[2]!.indexOf("=") + 1)] : [m[2]!, undefined];
        const has = (n: import("../network/store.ts").NetworkRecord) => (v === undefined ? k in n.labels : n.labels[k] === v);
        checks.push(m[1] === "label" ? has : (n) => !has(n));
      }
    }
    if (!a.force) {
      process.stderr.write("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
      if (!(await confirmed())) return 0;
    }
    const { pruneNetworks } = await import("../network/networks.ts");
    const gone = pruneNetworks(getEngine(), (n) => checks.every((c) => c(n)));
    out(gone.length ? `Deleted Networks:\n${gone.map((n) => n.name + "\n").join("")}` : "");
    return 0;
  },
});
