import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/main.ts";
import { ago, ellipsis, jsonLines, table } from "../cli/format.ts";
import { liveState, statusText } from "../container/status.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import type { ContainerState } from "../container/state.ts";

/** Docker quotes arguments that contain spaces: "sh -c 'exit 3'". */
function commandOf(st: ContainerState): string {
  return [st.path, ...st.args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

export default defineCommand({
  meta: { name: "ps", description: "List containers" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    format: { type: "string", description: "Format output: table (default) or json" },
    filter: { type: "string", alias: "f", description: "Filter output (status=, name=, id=)", multiple: true } as any,
  },
  run({ args }) {
    const a = argsOf(args);
    const engine = getEngine();
    const now = Date.now();
    const filters = list(a.filter).map((f) => {
      const i = f.indexOf("=");
      if (i < 1) throw new UserError(`bad format of filter (expected name=value): ${f}`);
      return [f.slice(0, i), f.slice(i + 1)] as const;
    });
    let cs = engine.containers.list().sort((x, y) => Date.parse(y.created) - Date.parse(x.created));
    if (!a.all && !filters.some(([k]) => k === "status")) cs = cs.filter((c) => liveState(c).status === "running" || liveState(c).status === "paused");
    for (const [k, v] of filters) {
      if (k === "status") cs = cs.filter((c) => liveState(c).status === v);
      else if (k === "name") cs = cs.filter((c) => new RegExp(v).test(c.name));
      else if (k === "id") cs = cs.filter((c) => c.id.startsWith(v));
      else throw new UserError(`invalid filter '${k}'`);
    }
    const trunc = !a["no-trunc"];
    if (a.quiet) {
      out(cs.map((c) => (trunc ? c.id.slice(0, 12) : c.id) + "\n").join(""));
      return 0;
    }
    const fmt = str(a.format);
    if (fmt === "json" || fmt === "{{json .}}") {
      out(
        jsonLines(
          cs.map((c) => ({
            Command: JSON.stringify(commandOf(c)),
            CreatedAt: c.created,
            ID: trunc ? c.id.slice(0, 12) : c.id,
            Image: c.image,
            Labels: "",
            LocalVolumes: "0",
            Mounts: c.mounts.map((m) => m.source).join(","),
            Names: c.name,
            Networks: "none",
            Ports: "",
            RunningFor: ago(c.created, now),
            Size: "",
            State: liveState(c).status,
            Status: statusText(c, now),
          })),
        ),
      );
      return 0;
    }
    if (fmt && fmt !== "table") throw new UserError(`unsupported format "${fmt}" (use table or json)`);
    const rows = cs.map((c) => [
      trunc ? c.id.slice(0, 12) : c.id,
      c.image,
      trunc ? JSON.stringify(ellipsis(commandOf(c), 20)) : JSON.stringify(commandOf(c)),
      ago(c.created, now),
      statusText(c, now),
      "",
      c.name,
    ]);
    out(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows));
    return 0;
  },
});
