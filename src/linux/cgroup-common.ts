// What the cgroup files (cgroups.ts, cgroup-v1.ts, cgroup-v2.ts, cgroup-stats.ts) share: the
// types, the one error class, the interface each hierarchy version implements, and small
// synchronous file helpers for cgroupfs.
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, writeSync, constants as FS } from "node:fs";
import { join } from "node:path";

export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup";

export type CgroupVersion = "v1" | "v2";

export interface CgroupLimits {
  /** --memory, bytes. */
  memory?: number;
  /** --memory-swap, bytes of memory+swap; -1 = unlimited swap. Unset/0 = 2 × memory (docker). */
  memorySwap?: number;
  /** --cpus × 1e9. */
  nanoCpus?: number;
  /** --cpu-shares (v1 scale 2..262144; converted to cpu.weight on v2). */
  cpuShares?: number;
  /** --cpuset-cpus, e.g. "0-2,4". */
  cpusetCpus?: string;
  /** --pids-limit; 0 or negative = unlimited. */
  pidsLimit?: number;
  /** --oom-kill-disable (v1 only; docker discards it on v2 with a warning, so do we). */
  oomKillDisable?: boolean;
  /** v2 memory.oom.group: an OOM kill takes down the whole container, not one process. */
  oomGroup?: boolean;
  /**
   * --privileged: no device restrictions. Otherwise docker's default device allow-list:
   * devices.allow on v1, an eBPF device program on v2 (device-filter.ts).
   */
  allowAllDevices?: boolean;
  /** More devices.allow rules (--device, --device-cgroup-rule), after the default list (v1). */
  deviceRules?: string[];
}

// Docker/runc's default device allow-list (everything else denied): mknod of anything,
// and use of the null/zero/full/random/urandom/tty/console/ptmx/pts/tun devices. v1 writes it
// to devices.allow, v2 compiles it into the eBPF device program (device-filter.ts).
export const DEFAULT_DEVICE_RULES = [
  "c *:* m", "b *:* m",
  "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
  "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
];

export interface CgroupOptions {
  /** Where the cgroup filesystem(s) are mounted. Tests point this at a fake tree. */
  root?: string;
  /** Skip detection (detection looks for <root>/cgroup.controllers). */
  version?: CgroupVersion;
}

/** What to save in the container state so a later `rm` (or a crash cleanup) can find it. */
export type CgroupPaths =
  | { version: "v2"; path: string }
  | { version: "v1"; paths: Record<string, string> /* controller → directory */ };

export interface CgroupStats {
  /** Bytes charged to the group, page cache included (null: memory controller absent). */
  memoryUsage: number | null;
  /** Inactive file cache; `docker stats` shows memoryUsage minus this. */
  memoryInactiveFile: number | null;
  /** null = unlimited or unknown. */
  memoryLimit: number | null;
  cpuUsageNs: number | null;
  pids: number;
  /** Bytes read from and written to block devices (docker stats' BLOCK I/O). */
  blockRead: number;
  blockWrite: number;
}

export type V1Paths = Extract<CgroupPaths, { version: "v1" }>;
export type V2Paths = Extract<CgroupPaths, { version: "v2" }>;

/**
 * One cgroup hierarchy version (cgroup-v1.ts, cgroup-v2.ts). The Cgroup class (cgroups.ts)
 * picks one by the version recorded in its paths; what both do alike stays there.
 */
export interface CgroupHierarchy<P extends CgroupPaths> {
  /** Create the group (path segments under `root`) and apply the limits; undo on failure. */
  create(root: string, segs: string[], limits: CgroupLimits): { paths: P; warnings: string[] };
  freeze(paths: P, timeoutMs: number): void;
  thaw(paths: P, timeoutMs: number): void;
  isFrozen(paths: P): boolean;
  /** `procs` lists the group's processes, for counts the kernel does not keep. */
  stats(paths: P, procs: () => number[]): CgroupStats;
  oomKilled(paths: P): boolean;
}

/** One-line, user-facing failure to set up or operate a cgroup. */
export class CgroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CgroupError";
  }
}

// ---------------------------------------------------------------------------------------------
// // File helpers.  Writes never create files: on cgroupfs a missing file means a missing
// controller or kernel feature, which must surface as such instead of as an odd EACCES.

export function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String(e);
}

export function writeValue(file: string, value: string): void {
  const fd = openSync(file, FS.O_WRONLY | FS.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

export function readValue(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

export function readInt(file: string): number | null {
  const v = readValue(file);
  if (v === null || v === "" || v === "max") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control, ...). */
export function readKeyed(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (readValue(file) ?? "").split("\n")) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

export function readPids(dir: string): number[] {
  const v = readValue(join(dir, "cgroup.procs"));
  return v ? v.split("\n").filter(Boolean).map(Number) : [];
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Validate a cgroup name such as "minid/<id>" and split it into path segments. */
export function segments(name: string): string[] {
  const segs = name.split("/");
  if (!name || segs.some((s) => s === "" || s === "." || s === "..")) {
    throw new CgroupError(`invalid cgroup name "${name}"`);
  }
  return segs;
}

/** mkdir that reports whether it created the directory (an existing one is fine: mkdir -p). */
export function mkdirOnce(dir: string): boolean {
  try {
    mkdirSync(dir); // cgroupfs populates the new directory with its interface files
    return true;
  } catch (e) {
    if (errCode(e) === "EEXIST") return false;
    throw new CgroupError(`cannot create cgroup ${dir}: ${errCode(e)}`);
  }
}

export function rollback(created: string[]): void {
  for (const d of [...created].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Best effort: a concurrent sibling may have made a shared parent non-empty.
    }
  }
}

// Which user-facing flag a limit came from, for error messages.
export const FLAG: Record<keyof CgroupLimits, string> = {
  memory: "--memory",
  memorySwap: "--memory-swap",
  nanoCpus: "--cpus",
  cpuShares: "--cpu-shares",
  cpusetCpus: "--cpuset-cpus",
  pidsLimit: "--pids-limit",
  oomKillDisable: "--oom-kill-disable",
  oomGroup: "oom group",
  allowAllDevices: "--privileged",
  deviceRules: "--device",
};

/** The limits that were actually given, with the controller each one needs. */
export function requestedControllers(l: CgroupLimits, v: CgroupVersion): Map<string, keyof CgroupLimits> {
  const need = new Map<string, keyof CgroupLimits>();
  const set = (ctrl: string, key: keyof CgroupLimits) => {
    if (!need.has(ctrl)) need.set(ctrl, key);
  };
  if (l.memory) set("memory", "memory");
  if (l.memorySwap) set("memory", "memorySwap");
  if (l.oomGroup && v === "v2") set("memory", "oomGroup");
  if (l.oomKillDisable && v === "v1") set("memory", "oomKillDisable");
  if (l.nanoCpus) set("cpu", "nanoCpus");
  if (l.cpuShares) set("cpu", "cpuShares");
  if (l.cpusetCpus) set("cpuset", "cpusetCpus");
  if (l.pidsLimit !== undefined && l.pidsLimit > 0) set("pids", "pidsLimit");
  return need;
}

/** Write one limit file, turning failure into "cannot apply --flag: ..." */
export function applyValue(dir: string, file: string, value: string, key: keyof CgroupLimits): void {
  try {
    writeValue(join(dir, file), value);
  } catch (e) {
    const code = errCode(e);
    const why =
      code === "ENOENT"
        ? `${join(dir, file)} does not exist (controller or kernel feature missing)`
        : `writing "${value}" to ${join(dir, file)} failed: ${code}`;
    throw new CgroupError(`cannot apply ${FLAG[key]}: ${why}`);
  }
}

export function writeOrThrow(file: string, value: string, what: string): void {
  try {
    writeValue(file, value);
  } catch (e) {
    throw new CgroupError(`cannot ${what}: writing "${value}" to ${file} failed: ${errCode(e)}`);
  }
}

export function tryWrite(file: string, value: string): boolean {
  try {
    writeValue(file, value);
    return true;
  } catch {
    return false;
  }
}

/** Poll `cond` with a growing sleep (1 ms → 50 ms) until true or `timeoutMs` has passed. */
export function waitFor(cond: () => boolean, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    Bun.sleepSync(delay);
    delay = Math.min(delay * 2, 50);
  }
}

