import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { humanSize } from "../cli/format.ts";
import { log } from "../util/log.ts";
import { argsOf } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { UserError } from "../util/errors.ts";
import { confirmed } from "./prune.ts";

export default defineCommand({
  meta: { name: "system prune", description: "Remove unused data (minid system prune [OPTIONS])" },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused images not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    volumes: { type: "boolean", description: "Prune anonymous volumes" },
  },
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    if (a.positionals.length) throw new UserError(`"minid system prune" accepts no arguments.\nSee 'minid system prune --help'.`);
    if (!a.force) {
      const items = ["all stopped containers"];
      if (a.volumes) items.push("all anonymous volumes not used by at least one container");
      items.push(a.all ? "all images without at least one container associated to them" : "all dangling images");
      process.stderr.write(`WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join("")}\nAre you sure you want to continue? [y/N] `);
      if (!(await confirmed())) return 0;
    }
    const { pruneSystem } = await import("../system/prune.ts");
    const r = await pruneSystem(getEngine(), { all: Boolean(a.all), volumes: Boolean(a.volumes) }, (e) => log.error(e instanceof Error ? e.message : String(e)));
    let t = "";
    if (r.containers.length) t += `Deleted Containers:\n${r.containers.map((c) => `${c}\n`).join("")}\n`;
    if (r.volumes.length) t += `Deleted Volumes:\n${r.volumes.map((c) => `${c}\n`).join("")}\n`;
    if (r.images.length) t += `Deleted Images:\n${r.images.map((c) => `${c}\n`).join("")}\n`;
    out(`${t}Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    return 0;
  },
});
