import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { ago, ellipsis, jsonLines, table } from "../cli/format.ts";
import { liveState, statusText } from "../container/status.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import type { ContainerState } from "../container/state.ts";

const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** Docker quotes arguments that contain spaces: "sh -c 'exit 3'". */
function commandOf(st: ContainerState): string {
  return [st.path, ...st.args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

/** One row in the shape `docker ps --format json` prints (also the data of --format templates). */
function row(c: ContainerState, now: number, trunc: boolean): Record<string, string> {
  const cmd = commandOf(c);
  return {
    Command: JSON.stringify(trunc ? ellipsis(cmd, 20) : cmd),
    CreatedAt: c.created,
    ID: trunc ? c.id.slice(0, 12) : c.id,
    Image: c.image,
    Labels: "",
    LocalVolumes: "0",
    Mounts: c.mounts.filter((m) => m.type === "bind").map((m) => m.source).join(","),
    Names: c.name,
    Networks: "none",
    Ports: "",
    RunningFor: ago(c.created, now),
    Size: "",
    State: liveState(c).status,
    Status: statusText(c, now),
  };
}

export default defineCommand({
  meta: { name: "ps", description: "List containers" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    format: { type: "string", description: "Format output: table (default), json, or a Go template ({{.ID}} {{.Names}})" },
    filter: { type: "string", alias: "f", description: "Filter output (status=, name=, id=, ancestor=, exited=)", multiple: true } as any,
    last: { type: "string", alias: "n", description: "Show n last created containers (includes all states)" },
    latest: { type: "boolean", alias: "l", description: "Show the latest created container (includes all states)" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const engine = getEngine();
    const now = Date.now();
    const filters = new Map<string, string[]>();
    for (const f of list(a.filter)) {
      const i = f.indexOf("=");
      if (i < 1) throw new UserError(`bad format of filter (expected name=value): ${f}`);
      const [k, v] = [f.slice(0, i), f.slice(i + 1)];
      if (!["status", "name", "id", "ancestor", "exited"].includes(k)) throw new UserError(`invalid filter '${k}'`);
      if (k === "status" && !STATUSES.includes(v)) throw new UserError(`invalid filter 'status=${v}'`);
      if (k === "exited" && !/^-?\d+$/.test(v)) throw new UserError(`invalid filter 'exited=${v}'`);
      filters.set(k, [...(filters.get(k) ?? []), v]);
    }
    let last = str(a.last) !== undefined ? Number(str(a.last)) : a.latest ? 1 : -1;
    if (Number.isNaN(last)) throw new UserError(`invalid argument "${str(a.last)}" for "-n, --last" flag`);
    let cs = engine.containers.list().sort((x, y) => Date.parse(y.created) - Date.parse(x.created));
    const showAll = a.all || last > 0 || filters.has("status") || filters.has("exited");
    if (!showAll) cs = cs.filter((c) => ["running", "paused"].includes(liveState(c).status));
    // Values of one key are alternatives; different keys must all match (Docker's rule).
    const match: Record<string, (c: ContainerState, v: string) => boolean> = {
      status: (c, v) => liveState(c).status === v,
      name: (c, v) => new RegExp(v.replace(/^\//, "")).test(c.name),
      id: (c, v) => c.id.startsWith(v),
      ancestor: (c, v) => c.image === v || c.image === `${v}:latest` || c.imageId.replace(/^sha256:/, "").startsWith(v.replace(/^sha256:/, "")),
      exited: (c, v) => liveState(c).status === "exited" && liveState(c).exitCode === Number(v),
    };
    for (const [k, vs] of filters) cs = cs.filter((c) => vs.some((v) => match[k]!(c, v)));
    if (last > 0) cs = cs.slice(0, last);
    const trunc = !a["no-trunc"];
    if (a.quiet) {
      out(cs.map((c) => (trunc ? c.id.slice(0, 12) : c.id) + "\n").join(""));
      return 0;
    }
    const fmt = str(a.format);
    if (fmt === "json" || fmt === "{{json .}}") {
      out(jsonLines(cs.map((c) => row(c, now, trunc))));
      return 0;
    }
    if (fmt && fmt !== "table") {
      const { renderTemplate } = await import("../cli/template.ts");
      const tableMode = fmt.startsWith("table ");
      const tpl = tableMode ? fmt.slice(6) : fmt;
      const lines = cs.map((c) => renderTemplate(tpl, row(c, now, trunc)));
      if (tableMode) {
        const header = renderTemplate(tpl, Object.fromEntries(Object.keys(row(cs[0] ?? ({} as any), now, trunc)).map((k) => [k, HEADERS[k] ?? k.toUpperCase()])));
        out(alignTabs([header, ...lines]));
      } else out(lines.map((l) => l + "\n").join(""));
      return 0;
    }
    const rows = cs.map((c) => {
      const r = row(c, now, trunc);
      return [r.ID!, r.Image!, r.Command!, r.RunningFor!, r.Status!, r.Ports!, r.Names!];
    });
    out(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows));
    return 0;
  },
});

const HEADERS: Record<string, string> = {
  ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
  Status: "STATUS", Ports: "PORTS", Names: "NAMES", State: "STATE", Labels: "LABELS", Mounts: "MOUNTS",
  Networks: "NETWORKS", Size: "SIZE", LocalVolumes: "LOCAL VOLUMES",
};

/** Tab-separated cells → columns padded like Go's tabwriter (3 spaces). */
function alignTabs(lines: string[]): string {
  const cells = lines.map((l) => l.split("\t"));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd() + "\n").join("");
}
