// Container cgroups for both cgroup v1 (one hierarchy per controller) and v2 (unified),
// detected at run time. Everything here is synchronous: callers are a CLI and an init that
// run one container operation at a time, and the waits (freeze, empty-before-rmdir) are short.
//
// This file is the face: create, reattach, operate and remove a container's group. Each
// version's own knowledge is behind one interface (CgroupHierarchy) in cgroup-v1.ts and
// cgroup-v2.ts; usage numbers in cgroup-stats.ts; Docker's limit rules in cgroup-limits.ts.
import { existsSync, readdirSync, rmdirSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { kill } from "./libc.ts";
import {
  CgroupError, DEFAULT_CGROUP_ROOT, errCode, isDir, readPids, segments, tryWrite, waitFor, writeValue,
  type CgroupHierarchy, type CgroupLimits, type CgroupOptions, type CgroupPaths, type CgroupStats,
  type CgroupVersion,
} from "./cgroup-common.ts";
import { validateLimits } from "./cgroup-limits.ts";
import { cgroupV1 } from "./cgroup-v1.ts";
import { cgroupV2 } from "./cgroup-v2.ts";

export { CgroupError, DEFAULT_CGROUP_ROOT };
export type { CgroupLimits, CgroupOptions, CgroupPaths, CgroupStats, CgroupVersion };
export { cpuMax, parseCpuList, sharesToWeight, swapMax, validateLimits } from "./cgroup-limits.ts";

const SIGKILL = 9;

export function detectCgroupVersion(root = DEFAULT_CGROUP_ROOT): CgroupVersion {
  return existsSync(join(root, "cgroup.controllers")) ? "v2" : "v1";
}

function hierarchy(paths: CgroupPaths): CgroupHierarchy<CgroupPaths> {
  // The version tag decides which kind of paths these are, so the widening is safe.
  return (paths.version === "v2" ? cgroupV2 : cgroupV1) as CgroupHierarchy<CgroupPaths>;
}

// ---------------------------------------------------------------------------------------------
// Creation

/**
 * Create the cgroup `name` (relative to the hierarchy root, e.g. "minid/<id>") and apply
 * `limits`. Validates first (validateLimits) and removes what it created if anything fails.
 * Warnings (limits the host cannot enforce but docker would merely warn about) are returned
 * in `cgroup.warnings` for the CLI to print.
 */
export function createCgroup(name: string, limits: CgroupLimits, opts: CgroupOptions = {}): Cgroup {
  validateLimits(limits);
  const root = opts.root ?? DEFAULT_CGROUP_ROOT;
  const version = opts.version ?? detectCgroupVersion(root);
  const segs = segments(name);
  const { paths, warnings } = version === "v2" ? cgroupV2.create(root, segs, limits) : cgroupV1.create(root, segs, limits);
  return new Cgroup(paths, warnings);
}

// ---------------------------------------------------------------------------------------------
// An existing cgroup

/** Reattach to a cgroup from saved state (no checks: operations report what is missing). */
export function loadCgroup(paths: CgroupPaths): Cgroup {
  return new Cgroup(paths, []);
}

export class Cgroup {
  constructor(
    readonly paths: CgroupPaths,
    /** Limits that were requested but cannot be enforced here (docker-style warnings). */
    readonly warnings: string[],
  ) {}

  get version(): CgroupVersion {
    return this.paths.version;
  }

  /** Each distinct directory (v1 co-mounted controllers share one). */
  get dirs(): string[] {
    return uniqueDirs(this.paths);
  }

  private dir(ctrl: string): string | undefined {
    return this.paths.version === "v2" ? this.paths.path : this.paths.paths[ctrl];
  }

  /**
   * Move a process (all its threads) into the group; 0 means the calling process, which is
   * how the init joins before execve. The paths are host paths, so the init must do this
   * before pivot_root. Retries EINVAL briefly: a just-forked task may still be in TASK_NEW
   * (runc does the same).
   */
  addProcess(pid: number): void {
    for (const d of this.dirs) {
      const file = join(d, "cgroup.procs");
      for (let attempt = 0; ; attempt++) {
        try {
          writeValue(file, String(pid));
          break;
        } catch (e) {
          if (errCode(e) === "EINVAL" && attempt < 5) {
            Bun.sleepSync(30);
            continue;
          }
          throw new CgroupError(`cannot move process ${pid} into ${d}: ${errCode(e)}`);
        }
      }
    }
  }

  /** Pids of the group's processes (not including child cgroups). */
  procs(): number[] {
    const d = this.dir("pids") ?? this.dir("freezer") ?? this.dir("memory") ?? this.dirs[0];
    return d ? readPids(d) : [];
  }

  /** Stop every process (docker pause). Returns once the kernel reports the group frozen. */
  freeze(timeoutMs = 5000): void {
    hierarchy(this.paths).freeze(this.paths, timeoutMs);
  }

  thaw(timeoutMs = 5000): void {
    hierarchy(this.paths).thaw(this.paths, timeoutMs);
  }

  isFrozen(): boolean {
    return hierarchy(this.paths).isFrozen(this.paths);
  }

  stats(): CgroupStats {
    return hierarchy(this.paths).stats(this.paths, () => this.procs());
  }

  /** Whether the kernel OOM-killed a process of this group (docker inspect's OOMKilled). */
  oomKilled(): boolean {
    return hierarchy(this.paths).oomKilled(this.paths);
  }

  /** Kill what is left and delete the group. See removeCgroup. */
  remove(timeoutMs?: number): void {
    removeCgroup(this.paths, timeoutMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Removal

function uniqueDirs(paths: CgroupPaths): string[] {
  return paths.version === "v2" ? [paths.path] : [...new Set(Object.values(paths.paths))];
}

/** A group and its descendants, deepest first (the order rmdir needs). */
function subtree(dir: string): string[] {
  const out: string[] = [];
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) out.push(...subtree(join(dir, e.name)));
  out.push(dir);
  return out;
}

// A wrong path in saved state must not make `rm` SIGKILL every process on the host.
function refuseRoot(dir: string): void {
  const v1Root = existsSync(join(dir, "release_agent")) || existsSync(join(dir, "cgroup.sane_behavior"));
  const v2Root = existsSync(join(dir, "cgroup.controllers")) && !existsSync(join(dir, "cgroup.events"));
  if (v1Root || v2Root) throw new CgroupError(`refusing to remove ${dir}: it is a cgroup hierarchy root`);
}

/**
 * Delete a container's cgroup after killing whatever still runs in it (and in any child
 * groups the container made). Idempotent: directories that are already gone are fine.
 * v2 uses cgroup.kill when the kernel has it (5.14+); otherwise every pid gets SIGKILL,
 * repeatedly, until the groups are empty (a forking process can add pids while we kill).
 */
export function removeCgroup(paths: CgroupPaths, timeoutMs = 5000): void {
  const tops = uniqueDirs(paths).filter(isDir);
  for (const d of tops) refuseRoot(d);
  const all = tops.flatMap(subtree);
  if (all.length === 0) return;

  // A v1-frozen task would not act on SIGKILL until thawed.
  for (const d of all) if (existsSync(join(d, "freezer.state"))) tryWrite(join(d, "freezer.state"), "THAWED");
  const useKill = paths.version === "v2" && tops.every((d) => existsSync(join(d, "cgroup.kill")));
  if (useKill) for (const d of tops) tryWrite(join(d, "cgroup.kill"), "1");

  let left: number[] = [];
  const empty = waitFor(() => {
    left = [...new Set(all.flatMap(readPids))];
    if (left.includes(process.pid)) {
      throw new CgroupError(`refusing to empty ${tops.join(", ")}: minid itself (pid ${process.pid}) is in it`);
    }
    if (!useKill) for (const pid of left) kill(pid, SIGKILL);
    return left.length === 0;
  }, timeoutMs);
  if (!empty) {
    throw new CgroupError(
      `cannot remove cgroup ${tops.join(", ")}: processes ${left.join(" ")} still alive after ${timeoutMs} ms`,
    );
  }

  for (const d of all) {
    let last = "";
    // rmdir can fail with EBUSY for a moment after the last task exits (v1 memory notably).
    const gone = waitFor(() => {
      try {
        rmdirSync(d);
        return true;
      } catch (e) {
        last = errCode(e);
        if (last === "ENOENT") return true;
        if (last === "EBUSY") return false;
        throw new CgroupError(`cannot remove cgroup ${d}: ${last}`);
      }
    }, 2000);
    if (!gone) throw new CgroupError(`cannot remove cgroup ${d}: ${last}`);
  }
}
