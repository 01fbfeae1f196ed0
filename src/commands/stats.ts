import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { formatItems, humanSize } from "../cli/format.ts";
import { asStruct } from "../cli/template.ts";
import { liveState } from "../container/status.ts";
import type { ContainerState } from "../container/state.ts";
import { totalmem } from "node:os";

/** go-units BytesSize: binary units with two decimals ("1.5MiB"). */
export function bytesSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(2))}${units[i]}`;
}

interface Sample {
  st: ContainerState;
  cpuNs: number;
  at: number;
}

export default defineCommand({
  meta: { name: "stats", description: "Display a live stream of container resource usage (minid stats [--no-stream] [CONTAINER...])" },
  args: {
    "no-stream": { type: "boolean", description: "Print one sample and exit" },
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    format: { type: "string", description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
  },
  async run({ args }) {
    const a = argsOf(args);
    const engine = getEngine();
    const { readCpuNs, readStats } = await import("../container/stats-reader.ts");
    const named = a.positionals.map((n) => engine.containers.find(n));
    const pick = () =>
      named.length ? named.map((c) => engine.containers.load(c.id) ?? c) : engine.containers.list().filter((c) => a.all || liveState(c).status === "running");
    const fmt = str(a.format);
    // Docker's statsContext; the template is checked before the first sample is taken.
    const given = fmt ?? "";
    const template = given === "" || given === "table" ? "table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}" : given;
    await formatItems(template, [], STATS_HEADER);
    // Every container's files are read at once; CPU % is the usage between two samples.
    const sample = (cs: ContainerState[]): Promise<Sample[]> =>
      Promise.all(cs.map(async (st) => ({ st, cpuNs: st.cgroupPaths ? ((await readCpuNs(st.cgroupPaths)) ?? 0) : 0, at: performance.now() })));
    // Streaming refreshes each second, as Docker; one sample (--no-stream) measures CPU over
    // a short window rather than making the user wait a second for it.
    const windowMs = a["no-stream"] ? 100 : 1000;
    for (;;) {
      const first = await sample(pick());
      await Bun.sleep(windowMs);
      const second = await Promise.all(first.map((s) => (s.st.cgroupPaths ? readStats(s.st.cgroupPaths) : undefined)));
      const now = performance.now();
      const rows = first.map((s, i) => {
        const running = liveState(s.st).status === "running";
        const cg = second[i];
        const cpu = running && cg?.cpuUsageNs != null ? ((cg.cpuUsageNs - s.cpuNs) / ((now - s.at) * 1e6)) * 100 : 0;
        const mem = running && cg?.memoryUsage != null ? Math.max(0, cg.memoryUsage - (cg.memoryInactiveFile ?? 0)) : 0;
        const limit = cg?.memoryLimit ?? totalmem();
        return {
          id: a["no-trunc"] ? s.st.id : s.st.id.slice(0, 12),
          name: s.st.name,
          cpu: `${cpu.toFixed(2)}%`,
          mem: `${bytesSize(mem)} / ${bytesSize(limit)}`,
          memPerc: `${limit ? ((mem / limit) * 100).toFixed(2) : "0.00"}%`,
          pids: String(running ? (cg?.pids ?? 0) : 0),
          // --network none: the only interface is lo, which Docker does not count either.
          net: "0B / 0B",
          block: `${humanSize(cg?.blockRead ?? 0)} / ${humanSize(cg?.blockWrite ?? 0)}`,
        };
      });
      const items = rows.map((r, i) =>
        asStruct(
          { BlockIO: r.block, CPUPerc: r.cpu, Container: a.positionals[i] ?? r.id, ID: r.id, MemPerc: r.memPerc, MemUsage: r.mem, Name: r.name, NetIO: r.net, PIDs: r.pids },
          "*container.statsContext",
        ),
      );
      out(await formatItems(template, items, STATS_HEADER));
      if (a["no-stream"]) return 0;
    }
  },
});

const STATS_HEADER: Record<string, string> = {
  Container: "CONTAINER", Name: "NAME", ID: "CONTAINER ID", CPUPerc: "CPU %", MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %",
  NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS",
};
