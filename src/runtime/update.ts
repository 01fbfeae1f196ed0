// `update [--resources FILE|-] [--memory N --cpu-shares N …] ID`: new linux.resources for a
// running container, applied to its cgroup (only what is given changes), as runc update.
import { readFileSync } from "node:fs";
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, str } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store } from "./store.ts";
import { applyResources } from "./cgroups.ts";
import type { Resources } from "./config.ts";

const NUM_FLAGS = ["memory", "memory-swap", "memory-reservation", "kernel-memory", "kernel-memory-tcp", "cpu-shares", "cpu-quota", "cpu-period", "cpu-rt-period", "cpu-rt-runtime", "pids-limit", "blkio-weight"];

function bytes(s: string): number {
  const m = /^(-?\d+)([kmgt]?)b?$/i.exec(s.trim());
  if (!m) throw new RuntimeError(`invalid value ${JSON.stringify(s)}`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as "" | "k"]!;
  return Number(m[1]) * mult;
}

export default function update(g: Globals, log: Logger, argv: string[]): number {
  const { flags, args } = parseFlags(argv, { value: ["resources", "cpuset-cpus", "cpuset-mems", "l3-cache-schema", "mem-bw-schema", ...NUM_FLAGS], alias: { r: "resources" } }, "update");
  if (args.length !== 1) throw new RuntimeError(`"update" requires exactly 1 argument(s)`);
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  if (store.status(r) === "stopped") throw new RuntimeError("container not running");
  let res: Resources = {};
  const file = str(flags, "resources");
  if (file) {
    try {
      res = JSON.parse(file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8"));
    } catch (e) {
      throw new RuntimeError(`cannot read resources from ${file === "-" ? "stdin" : file}: ${(e as Error).message}`);
    }
  }
  const n = (k: string) => (str(flags, k) !== undefined ? bytes(str(flags, k)!) : undefined);
  const mem = { limit: n("memory"), swap: n("memory-swap"), reservation: n("memory-reservation"), kernel: n("kernel-memory"), kernelTCP: n("kernel-memory-tcp") };
  if (Object.values(mem).some((v) => v !== undefined)) res.memory = { ...res.memory, ...Object.fromEntries(Object.entries(mem).filter(([, v]) => v !== undefined)) };
  const cpu = { shares: n("cpu-shares"), quota: n("cpu-quota"), period: n("cpu-period"), realtimePeriod: n("cpu-rt-period"), realtimeRuntime: n("cpu-rt-runtime"), cpus: str(flags, "cpuset-cpus"), mems: str(flags, "cpuset-mems") };
  if (Object.values(cpu).some((v) => v !== undefined)) res.cpu = { ...res.cpu, ...Object.fromEntries(Object.entries(cpu).filter(([, v]) => v !== undefined)) };
  if (n("pids-limit") !== undefined) res.pids = { limit: n("pids-limit")! };
  if (n("blkio-weight") !== undefined) res.blockIO = { ...res.blockIO, weight: n("blkio-weight")! };
  if (!r.cgroup) throw new RuntimeError("container has no cgroup");
  applyResources(r.cgroup, res, { devices: false, warn: (m) => log.warn(m) });
  return 0;
}
