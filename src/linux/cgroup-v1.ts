// cgroup v1: one hierarchy per controller (co-mounted ones share a directory), the container's
// group made in each mounted one, Docker's default device allow-list, the freezer for pause.
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import {
  CgroupError, FLAG, applyValue, errCode, isDir, mkdirOnce, readInt, readKeyed, readValue,
  requestedControllers, rollback, tryWrite, waitFor, writeOrThrow, writeValue, type CgroupHierarchy,
  type CgroupLimits, type V1Paths,
  DEFAULT_DEVICE_RULES,
} from "./cgroup-common.ts";
import { CPU_PERIOD_US, checkCpusAvailable, cpuQuotaUs } from "./cgroup-limits.ts";
import { statsV1 } from "./cgroup-stats.ts";

export const cgroupV1: CgroupHierarchy<V1Paths> = {
  create: createV1,

  freeze(paths, timeoutMs) {
    const d = requireV1(paths, "freezer", "pause");
    const state = join(d, "freezer.state");
    // v1 can stay in FREEZING when a task is mid-fork; rewriting FROZEN retries, as runc does.
    const ok = waitFor(() => {
      writeOrThrow(state, "FROZEN", "pause");
      return readValue(state) === "FROZEN";
    }, timeoutMs);
    if (!ok) {
      tryWrite(state, "THAWED");
      throw new CgroupError(`cannot pause: ${d} did not freeze within ${timeoutMs} ms`);
    }
  },

  thaw(paths, timeoutMs) {
    const state = join(requireV1(paths, "freezer", "unpause"), "freezer.state");
    if (!waitFor(() => (writeOrThrow(state, "THAWED", "unpause"), readValue(state) === "THAWED"), timeoutMs)) {
      throw new CgroupError(`cannot unpause: ${state} did not reach THAWED within ${timeoutMs} ms`);
    }
  },

  isFrozen(paths) {
    const d = paths.paths.freezer;
    return d ? readValue(join(d, "freezer.state")) === "FROZEN" : false;
  },

  stats: statsV1,

  oomKilled(paths) {
    const mem = paths.paths.memory;
    if (!mem) return false;
    const kills = readKeyed(join(mem, "memory.oom_control")).get("oom_kill");
    if (kills !== undefined) return kills > 0;
    // Kernels before 4.13 have no oom_kill counter: hitting the limit is the best hint left.
    return (readInt(join(mem, "memory.failcnt")) ?? 0) > 0;
  },
};

function requireV1(paths: V1Paths, ctrl: string, what: string): string {
  const d = paths.paths[ctrl];
  if (!d) throw new CgroupError(`cannot ${what}: the cgroup v1 ${ctrl} hierarchy is not mounted`);
  return d;
}

// v1: created in every mounted hierarchy among these so freeze/stats/rm work without limits.
const V1_CONTROLLERS = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "devices"];

/** controller → hierarchy root directory, for the v1 hierarchies mounted under `root`. */
function v1Hierarchies(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const ctrl of V1_CONTROLLERS) {
    const p = join(root, ctrl);
    // Co-mounted controllers ("cpu,cpuacct" plus cpu/cpuacct symlinks) share one realpath.
    if (isDir(p) && existsSync(join(p, "cgroup.procs"))) out.set(ctrl, realpathSync(p));
  }
  return out;
}

function createV1(root: string, segs: string[], l: CgroupLimits): { paths: V1Paths; warnings: string[] } {
  const hier = v1Hierarchies(root);
  for (const [ctrl, key] of requestedControllers(l, "v1")) {
    if (!hier.has(ctrl)) {
      throw new CgroupError(
        `cannot apply ${FLAG[key]}: cgroup v1 controller "${ctrl}" is not mounted under ${root}`,
      );
    }
  }
  const created: string[] = [];
  const warnings: string[] = [];
  const paths: Record<string, string> = {};
  const done = new Map<string, string>(); // hierarchy root → leaf, to create each only once
  try {
    for (const [ctrl, h] of hier) {
      let leaf = done.get(h);
      if (!leaf) {
        let dir = h;
        for (const seg of segs) {
          const parent = dir;
          dir = join(dir, seg);
          if (mkdirOnce(dir)) created.push(dir);
          // A new cpuset group starts with no CPUs and no memory nodes, and refuses tasks.
          if (existsSync(join(dir, "cpuset.cpus"))) inheritCpuset(parent, dir);
        }
        leaf = dir;
        done.set(h, leaf);
      }
      paths[ctrl] = leaf;
    }

    const mem = paths.memory;
    if (mem && l.memory) {
      applyValue(mem, "memory.limit_in_bytes", String(l.memory), "memory");
      if (existsSync(join(mem, "memory.memsw.limit_in_bytes"))) {
        // memsw must stay >= limit_in_bytes, which is why it is written second.
        const total = !l.memorySwap ? l.memory * 2 : l.memorySwap;
        applyValue(mem, "memory.memsw.limit_in_bytes", String(total), "memorySwap");
      } else if (l.memorySwap) {
        warnings.push(
          "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
        );
      }
    }
    if (mem && l.oomKillDisable) applyValue(mem, "memory.oom_control", "1", "oomKillDisable");
    if (l.oomGroup) warnings.push("memory.oom.group is a cgroup v2 feature; ignored on cgroup v1.");
    if (l.nanoCpus) {
      applyValue(paths.cpu!, "cpu.cfs_period_us", String(CPU_PERIOD_US), "nanoCpus");
      applyValue(paths.cpu!, "cpu.cfs_quota_us", String(cpuQuotaUs(l.nanoCpus)), "nanoCpus");
    }
    if (l.cpuShares) applyValue(paths.cpu!, "cpu.shares", String(l.cpuShares), "cpuShares");
    if (l.cpusetCpus) {
      const parent = join(paths.cpuset!, "..");
      checkCpusAvailable(l.cpusetCpus, readValue(join(parent, "cpuset.cpus")));
      applyValue(paths.cpuset!, "cpuset.cpus", l.cpusetCpus, "cpusetCpus");
    }
    if (l.pidsLimit !== undefined && paths.pids) {
      applyValue(paths.pids, "pids.max", l.pidsLimit > 0 ? String(l.pidsLimit) : "max", "pidsLimit");
    }
    if (paths.devices && !l.allowAllDevices) {
      applyValue(paths.devices, "devices.deny", "a", "allowAllDevices");
      for (const rule of DEFAULT_DEVICE_RULES) {
        applyValue(paths.devices, "devices.allow", rule, "allowAllDevices");
      }
      for (const rule of l.deviceRules ?? []) applyValue(paths.devices, "devices.allow", rule, "deviceRules");
    }
    return { paths: { version: "v1", paths }, warnings };
  } catch (e) {
    rollback(created);
    throw e;
  }
}

function inheritCpuset(parent: string, dir: string): void {
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    if ((readValue(join(dir, f)) ?? "") !== "") continue;
    const v = readValue(join(parent, f)) ?? "";
    try {
      writeValue(join(dir, f), v);
    } catch (e) {
      throw new CgroupError(`cannot initialise ${join(dir, f)} from its parent ("${v}"): ${errCode(e)}`);
    }
  }
}
