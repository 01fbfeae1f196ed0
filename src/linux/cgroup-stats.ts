// Resource usage of a container's cgroup, as `docker stats` shows it: memory (with the
// inactive file cache apart), CPU time, pids and block I/O, from each version's files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readInt, readKeyed, readPids, type CgroupStats, type V1Paths, type V2Paths } from "./cgroup-common.ts";

export function statsV2(paths: V2Paths): CgroupStats {
  const d = paths.path;
  const cpu = readKeyed(join(d, "cpu.stat")).get("usage_usec");
  return {
    memoryUsage: readInt(join(d, "memory.current")),
    memoryInactiveFile: readKeyed(join(d, "memory.stat")).get("inactive_file") ?? null,
    memoryLimit: readInt(join(d, "memory.max")),
    cpuUsageNs: cpu === undefined ? null : cpu * 1000,
    pids: readInt(join(d, "pids.current")) ?? readPids(d).length,
    ...ioV2(join(d, "io.stat")),
  };
}

/** `procs` counts the group's processes when the pids controller is not mounted. */
export function statsV1(paths: V1Paths, procs: () => number[]): CgroupStats {
  const mem = paths.paths.memory;
  const cpuacct = paths.paths.cpuacct;
  const pids = paths.paths.pids;
  const limit = mem ? readInt(join(mem, "memory.limit_in_bytes")) : null;
  return {
    memoryUsage: mem ? readInt(join(mem, "memory.usage_in_bytes")) : null,
    memoryInactiveFile: mem ? readKeyed(join(mem, "memory.stat")).get("total_inactive_file") ?? null : null,
    // v1 spells "unlimited" as a huge page-aligned number (0x7ffffffffffff000 on x86_64).
    memoryLimit: limit !== null && limit >= 2 ** 62 ? null : limit,
    cpuUsageNs: cpuacct ? readInt(join(cpuacct, "cpuacct.usage")) : null,
    pids: (pids ? readInt(join(pids, "pids.current")) : null) ?? procs().length,
    ...ioV1(paths.paths.blkio),
  };
}

/** v2 io.stat: one line per device, "MAJ:MIN rbytes=N wbytes=N …". */
function ioV2(file: string): { blockRead: number; blockWrite: number } {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {}
  let blockRead = 0;
  let blockWrite = 0;
  for (const m of text.matchAll(/rbytes=(\d+)\s+wbytes=(\d+)/g)) {
    blockRead += Number(m[1]);
    blockWrite += Number(m[2]);
  }
  return { blockRead, blockWrite };
}

/** v1 blkio.throttle.io_service_bytes: "MAJ:MIN Read N" / "MAJ:MIN Write N" lines. */
function ioV1(dir: string | undefined): { blockRead: number; blockWrite: number } {
  let text = "";
  try {
    if (dir) text = readFileSync(join(dir, "blkio.throttle.io_service_bytes"), "utf8");
  } catch {}
  let blockRead = 0;
  let blockWrite = 0;
  for (const m of text.matchAll(/^\S+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === "Read") blockRead += Number(m[2]);
    else blockWrite += Number(m[2]);
  }
  return { blockRead, blockWrite };
}
