// The figures `stats` shows, read from a container's cgroup with every file of every
// container requested at once (async reads on Bun's pool threads). The same files and rules
// as Cgroup.stats() in linux/cgroups.ts, which reads them one after another: with 50
// containers that is 50 × 7 sequential open/read/close round trips per sample.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CgroupPaths, CgroupStats } from "../linux/cgroups.ts";

async function text(file: string | undefined): Promise<string | null> {
  if (!file) return null;
  try {
    return await readFile(file, "utf8");
  } catch {
    return null;
  }
}

function int(v: string | null): number | null {
  const t = v?.trim();
  if (!t || t === "max") return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function keyed(v: string | null, key: string): number | undefined {
  const m = new RegExp(`^${key}\\s+(\\d+)$`, "m").exec(v ?? "");
  return m ? Number(m[1]) : undefined;
}

function lines(v: string | null): number {
  return v ? v.split("\n").filter(Boolean).length : 0;
}

const at = (dir: string | undefined, file: string) => (dir ? join(dir, file) : undefined);

/** CPU time used by the group so far, in ns (the first of the two samples CPU % needs). */
export async function readCpuNs(paths: CgroupPaths): Promise<number | null> {
  if (paths.version === "v2") {
    const usec = keyed(await text(join(paths.path, "cpu.stat")), "usage_usec");
    return usec === undefined ? null : usec * 1000;
  }
  return int(await text(at(paths.paths.cpuacct, "cpuacct.usage")));
}

export async function readStats(paths: CgroupPaths): Promise<CgroupStats> {
  if (paths.version === "v2") {
    const d = paths.path;
    const [cpu, current, stat, max, pids, procs, io] = await Promise.all(
      ["cpu.stat", "memory.current", "memory.stat", "memory.max", "pids.current", "cgroup.procs", "io.stat"].map((f) => text(join(d, f))),
    );
    const usec = keyed(cpu!, "usage_usec");
    let blockRead = 0;
    let blockWrite = 0;
    for (const m of (io ?? "").matchAll(/rbytes=(\d+)\s+wbytes=(\d+)/g)) {
      blockRead += Number(m[1]);
      blockWrite += Number(m[2]);
    }
    return {
      memoryUsage: int(current!),
      memoryInactiveFile: keyed(stat!, "inactive_file") ?? null,
      memoryLimit: int(max!),
      cpuUsageNs: usec === undefined ? null : usec * 1000,
      pids: int(pids!) ?? lines(procs!),
      blockRead,
      blockWrite,
    };
  }
  const p = paths.paths;
  const procsDir = p.pids ?? p.freezer ?? p.memory ?? Object.values(p)[0];
  const [usage, stat, limit, cpu, pids, procs, io] = await Promise.all([
    text(at(p.memory, "memory.usage_in_bytes")),
    text(at(p.memory, "memory.stat")),
    text(at(p.memory, "memory.limit_in_bytes")),
    text(at(p.cpuacct, "cpuacct.usage")),
    text(at(p.pids, "pids.current")),
    p.pids ? Promise.resolve(null) : text(at(procsDir, "cgroup.procs")),
    text(at(p.blkio, "blkio.throttle.io_service_bytes")),
  ]);
  let blockRead = 0;
  let blockWrite = 0;
  for (const m of (io ?? "").matchAll(/^\S+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === "Read") blockRead += Number(m[2]);
    else blockWrite += Number(m[2]);
  }
  const lim = int(limit);
  return {
    memoryUsage: p.memory ? int(usage) : null,
    memoryInactiveFile: p.memory ? (keyed(stat, "total_inactive_file") ?? null) : null,
    // v1 spells "unlimited" as a huge page-aligned number (0x7ffffffffffff000 on x86_64).
    memoryLimit: lim !== null && lim >= 2 ** 62 ? null : lim,
    cpuUsageNs: int(cpu),
    pids: int(pids) ?? lines(procs),
    blockRead,
    blockWrite,
  };
}
