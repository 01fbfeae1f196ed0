import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { log } from "../util/log.ts";
import { argsOf, list } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "container prune", description: "Remove all stopped containers (minid container prune [OPTIONS])" },
  args: {
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    filter: { type: "string", description: 'Provide filter values (e.g. "until=24h")', multiple: true } as any,
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid container prune" accepts no arguments.\nSee 'minid container prune --help'.`);
    let until = Infinity;
    for (const f of list(a.filter)) {
      const m = /^until=(.+)$/.exec(f);
      if (!m) throw new UserError(`invalid filter '${f}' (supported: until=<timestamp|duration>)`);
      const d = /^(\d+)(s|m|h)$/.exec(m[1]!);
      until = d ? Date.now() - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[d[2] as "s" | "m" | "h"] : Date.parse(m[1]!);
      if (Number.isNaN(until)) throw new UserError(`invalid filter '${f}': bad timestamp`);
    }
    if (!a.force) {
      process.stderr.write("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
      if (!(await confirmed())) return 0;
    }
    const engine = getEngine();
    const { pruneContainers } = await import("../container/remove.ts");
    const deleted = pruneContainers(engine, until, (e) => log.error(e instanceof Error ? e.message : String(e)));
    out(deleted.length ? `Deleted Containers:\n${deleted.map((d) => d + "\n").join("")}\n` : "");
    out("Total reclaimed space: 0B\n");
    return 0;
  },
});

export async function confirmed(): Promise<boolean> {
  const { readSync } = await import("node:fs");
  const buf = Buffer.alloc(256);
  let line = "";
  try {
    for (;;) {
      const n = readSync(0, buf, 0, buf.length, null);
      if (n <= 0) break;
      line += buf.subarray(0, n).toString();
      if (line.includes("\n")) break;
    }
  } catch {}
  return /^\s*y(es)?\s*$/i.test(line.split("\n")[0] ?? "");
}
