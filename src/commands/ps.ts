import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { ago, ellipsis, formatItems, goTimeString } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { healthOf, liveState, statusText } from "../container/status.ts";
import { argsOf, list, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";
import type { ContainerState } from "../container/state.ts";

const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** Docker quotes arguments that contain spaces: "sh -c 'exit 3'". */
function commandOf(st: ContainerState): string {
  return [st.path, ...st.args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

/** Docker's formatter.ContainerContext: the fields `ps --format` templates (and json) see. */
function row(c: ContainerState, now: number, trunc: boolean, ports: (c: ContainerState) => string): Record<string, unknown> {
  const cmd = commandOf(c);
  const labels: Record<string, string> = (c.config as { labels?: Record<string, string> }).labels ?? {};
  return asStruct(
    {
      Command: JSON.stringify(trunc ? ellipsis(cmd, 20) : cmd),
      // A getter: the local time zone (ICU, ~20 ms to load) only when a template shows it.
      get CreatedAt() {
        return goTimeString(c.created);
      },
      ID: trunc ? c.id.slice(0, 12) : c.id,
      Image: c.image,
      Labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(","),
      Label: (name: string) => labels[name] ?? "",
      LocalVolumes: String(c.mounts.filter((m) => m.volume).length),
      Mounts: c.mounts.filter((m) => m.type === "bind").map((m) => m.volume ?? m.source).map((n) => (trunc ? ellipsis(n, 15) : n)).join(","),
      Names: c.name,
      Networks: networksColumn(c),
      Ports: ports(c),
      RunningFor: ago(c.created, now),
      Size: "0B",
      State: liveState(c).status,
      Status: statusText(c, now),
    },
    "*formatter.ContainerContext",
  );
}

/** Docker's NETWORKS: the names of NetworkSettings.Networks (host, none, or the networks joined). */
function networksColumn(c: ContainerState): string {
  const n = c.network;
  if (!n || n.mode === "none") return "none";
  if (n.mode === "host") return "host";
  if (n.mode.startsWith("container:")) return "";
  return [...new Set(n.endpoints.map((e) => e.networkName))].sort().join(",");
}

/**
 * Docker's ps checks any --format first, against an empty container (even when none is
 * listed), with its own wording: "failed to parse template: …", "failed to execute template: …".
 */
async function validateFormat(format: string): Promise<void> {
  const { Template, TemplateError } = await import("../cli/template.ts");
  let tpl;
  try {
    tpl = new Template(format);
  } catch (e) {
    if (e instanceof TemplateError) throw new UserError(`failed to parse template: ${e.message}`, 1);
    throw e;
  }
  const empty = asStruct(
    { ...Object.fromEntries(Object.keys(PS_HEADER).map((k) => [k, ""])), Label: (_name: string) => "" },
    "*formatter.ContainerContext",
  );
  try {
    tpl.execute(empty);
  } catch (e) {
    if (e instanceof TemplateError) throw new UserError(`failed to execute template: ${e.message}`, 1);
    throw e;
  }
}

const PS_HEADER: Record<string, string> = {
  ID: "CONTAINER ID", Names: "NAMES", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
  Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Labels: "LABELS", Mounts: "MOUNTS",
  LocalVolumes: "LOCAL VOLUMES", Networks: "NETWORKS", Platform: "PLATFORM", HealthStatus: "HEALTH STATUS", IPAddresses: "IP ADDRESSES",
};
const PS_TABLE = "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";
const PS_RAW = `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`;

export default defineCommand({
  meta: { name: "ps", description: "List containers" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
    size: { type: "boolean", alias: "s", description: "Add the SIZE column (sizes are not computed: 0B)" },
    filter: { type: "string", alias: "f", description: "Filter output (status=, name=, id=, ancestor=, exited=, label=, health=, publish=, expose=, volume=, network=, before=, since=)", multiple: true } as any,
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
      if (!["status", "name", "id", "ancestor", "exited", "label", "health", "publish", "expose", "volume", "network", "before", "since"].includes(k)) throw new UserError(`invalid filter '${k}'`);
      if (k === "health" && !["starting", "healthy", "unhealthy", "none"].includes(v)) {
        throw new UserError(`Unrecognised filter value for health: ${v}`);
      }
      if (k === "status" && !STATUSES.includes(v)) throw new UserError(`invalid filter 'status=${v}'`);
      if (k === "exited" && !/^-?\d+$/.test(v)) throw new UserError(`invalid filter 'exited=${v}'`);
      filters.set(k, [...(filters.get(k) ?? []), v]);
    }
    let last = str(a.last) !== undefined ? Number(str(a.last)) : a.latest ? 1 : -1;
    if (Number.isNaN(last)) throw new UserError(`invalid argument "${str(a.last)}" for "-n, --last" flag`);
    const created = new Map(engine.containers.list().map((c) => [c, Date.parse(c.created)] as const));
    let cs = [...created.keys()].sort((x, y) => created.get(y)! - created.get(x)!);
    // before=/since= name containers that must exist (Docker: "No such container"); found by
    // the same lookup every command uses, and compared by the creation times above.
    const refTime = new Map<string, number>();
    for (const v of [...(filters.get("before") ?? []), ...(filters.get("since") ?? [])]) refTime.set(v, Date.parse(engine.containers.find(v).created));
    const showAll = a.all || last > 0 || filters.has("status") || filters.has("exited");
    if (!showAll) cs = cs.filter((c) => ["running", "paused", "restarting"].includes(liveState(c).status));
    // Values of one key are alternatives; different keys must all match (Docker's rule).
    const match: Record<string, (c: ContainerState, v: string) => boolean> = {
      status: (c, v) => liveState(c).status === v,
      name: (c, v) => new RegExp(v.replace(/^\//, "")).test(c.name),
      id: (c, v) => c.id.startsWith(v),
      ancestor: (c, v) => c.image === v || c.image === `${v}:latest` || c.imageId.replace(/^sha256:/, "").startsWith(v.replace(/^sha256:/, "")),
      exited: (c, v) => liveState(c).status === "exited" && liveState(c).exitCode === Number(v),
      // label=KEY or label=KEY=VALUE, on the image's labels merged with the container's.
      label: (c, v) => {
        const labels = c.config.labels ?? {};
        const i = v.indexOf("=");
        return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
      },
      // A volume by name, or any mount by its destination in the container.
      volume: (c, v) => c.mounts.some((m) => m.volume === v || m.destination === v),
      // A network by name or id (prefix) among the container's endpoints.
      network: (c, v) => (c.network?.endpoints ?? []).some((e) => e.networkName === v || e.networkId.startsWith(v)),
      // Created before / after another container (by name or id), as Docker orders them.
      before: (c, v) => created.get(c)! < refTime.get(v)!,
      since: (c, v) => created.get(c)! > refTime.get(v)!,
      // A stopped container with a healthcheck reads unhealthy (as its State.Health does).
      health: (c, v) => (healthOf(c) ?? (c.healthcheck && liveState(c).status === "exited" ? "unhealthy" : "none")) === v,
    };
    if (filters.has("publish") || filters.has("expose")) {
      const { portFilter } = await import("../network/port-status.ts");
      for (const k of ["publish", "expose"] as const) {
        const tests = (filters.get(k) ?? []).map((v) => portFilter(engine, k, v));
        if (tests.length) match[k] = (c, v) => tests[(filters.get(k) ?? []).indexOf(v)]!(c);
      }
    }
    // …except labels, which must all match (Docker's MatchKVList).
    for (const [k, vs] of filters) cs = cs.filter((c) => (k === "label" ? vs.every((v) => match[k]!(c, v)) : vs.some((v) => match[k]!(c, v))));
    if (last > 0) cs = cs.slice(0, last);
    const trunc = !a["no-trunc"];
    // Docker's NewContainerFormat: table or nothing is the default table, -q wins over a
    // custom template, "raw" is the key: value listing.
    const given = str(a.format) ?? "";
    if (given) await validateFormat(given);
    const sizeCol = a.size ? "\\t{{.Size}}" : "";
    const fmt =
      given === "" || given === "table"
        ? a.quiet ? "{{.ID}}" : PS_TABLE + sizeCol
        : given === "raw"
          ? a.quiet ? "container_id: {{.ID}}" : PS_RAW + (a.size ? "size: {{.Size}}\\n" : "")
          : a.quiet ? "{{.ID}}" : given;
    const { displayablePorts } = await import("../network/ports.ts");
    const { networkPorts } = await import("../network/port-status.ts");
    const ports = (c: ContainerState) => displayablePorts(networkPorts(engine, c));
    out(await formatItems(fmt, cs.map((c) => row(c, now, trunc, ports)), PS_HEADER));
    return 0;
  },
});
