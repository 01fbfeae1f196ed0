// cgroup v2 (the unified hierarchy): one directory per container, controllers enabled level
// by level through cgroup.subtree_control, freezing through cgroup.freeze.
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CgroupError, FLAG, applyValue, errCode, mkdirOnce, readKeyed, readValue, requestedControllers,
  rollback, tryWrite, waitFor, writeOrThrow, writeValue, DEFAULT_DEVICE_RULES, DEFAULT_CGROUP_ROOT, type CgroupHierarchy, type CgroupLimits,
  type V2Paths,
} from "./cgroup-common.ts";
import { checkCpusAvailable, cpuMax, sharesToWeight, swapMax } from "./cgroup-limits.ts";
import { statsV2 } from "./cgroup-stats.ts";
import { attachDeviceFilter } from "./device-filter.ts";

export const cgroupV2: CgroupHierarchy<V2Paths> = {
  create: createV2,

  freeze(paths, timeoutMs) {
    const d = paths.path;
    writeOrThrow(join(d, "cgroup.freeze"), "1", "pause");
    if (!waitFor(() => readKeyed(join(d, "cgroup.events")).get("frozen") === 1, timeoutMs)) {
      tryWrite(join(d, "cgroup.freeze"), "0");
      throw new CgroupError(`cannot pause: ${d} did not freeze within ${timeoutMs} ms`);
    }
  },

  thaw(paths, timeoutMs) {
    const d = paths.path;
    writeOrThrow(join(d, "cgroup.freeze"), "0", "unpause");
    if (!waitFor(() => readKeyed(join(d, "cgroup.events")).get("frozen") === 0, timeoutMs)) {
      throw new CgroupError(`cannot unpause: ${d} did not thaw within ${timeoutMs} ms`);
    }
  },

  isFrozen(paths) {
    return readKeyed(join(paths.path, "cgroup.events")).get("frozen") === 1;
  },

  stats: (paths) => statsV2(paths),

  oomKilled(paths) {
    return (readKeyed(join(paths.path, "memory.events")).get("oom_kill") ?? 0) > 0;
  },
};

// Enabled on every level when available, even without a limit, so `stats` can report them.
const V2_WANTED = ["cpuset", "cpu", "io", "memory", "pids", "hugetlb"];

function createV2(root: string, segs: string[], l: CgroupLimits): { paths: V2Paths; warnings: string[] } {
  const need = requestedControllers(l, "v2");
  const created: string[] = [];
  const warnings: string[] = [];
  let parent = root;
  try {
    for (const seg of segs) {
      enableV2Controllers(parent, need);
      const dir = join(parent, seg);
      if (mkdirOnce(dir)) created.push(dir);
      parent = dir;
    }
    const dir = parent;
    if (l.memory) applyValue(dir, "memory.max", String(l.memory), "memory");
    if (l.memory && l.memory > 0) {
      if (existsSync(join(dir, "memory.swap.max"))) {
        applyValue(dir, "memory.swap.max", swapMax(l.memory, l.memorySwap), "memorySwap");
      } else if (l.memorySwap) {
        warnings.push(
          "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
        );
      }
    }
    if (l.oomGroup) applyValue(dir, "memory.oom.group", "1", "oomGroup");
    if (l.oomKillDisable) {
      warnings.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
    }
    if (l.nanoCpus) applyValue(dir, "cpu.max", cpuMax(l.nanoCpus), "nanoCpus");
    if (l.cpuShares) applyValue(dir, "cpu.weight", String(sharesToWeight(l.cpuShares)), "cpuShares");
    if (l.cpusetCpus) {
      checkCpusAvailable(l.cpusetCpus, readValue(join(dir, "cpuset.cpus.effective")));
      applyValue(dir, "cpuset.cpus", l.cpusetCpus, "cpusetCpus");
    }
    if (l.pidsLimit !== undefined) {
      if (l.pidsLimit > 0) applyValue(dir, "pids.max", String(l.pidsLimit), "pidsLimit");
      else if (existsSync(join(dir, "pids.max"))) applyValue(dir, "pids.max", "max", "pidsLimit");
    }
    // The device allow-list is an eBPF program on v2 (not on a test's fake tree: no cgroup2 there).
    if (!l.allowAllDevices && root === DEFAULT_CGROUP_ROOT) {
      try {
        attachDeviceFilter(dir, [...DEFAULT_DEVICE_RULES, ...(l.deviceRules ?? [])]);
      } catch (e) {
        throw new CgroupError(`cannot install the device allow-list (eBPF) on ${dir}: ${(e as Error).message}`);
      }
    }
    return { paths: { version: "v2", path: dir }, warnings };
  } catch (e) {
    rollback(created);
    throw e;
  }
}

/**
 * Make the controllers available to `parent`'s children. Required ones (for a requested limit)
 * must succeed; the rest are best effort (they may be bound to a v1 hierarchy on hybrid hosts).
 */
function enableV2Controllers(parent: string, need: Map<string, keyof CgroupLimits>): void {
  const available = (readValue(join(parent, "cgroup.controllers")) ?? "").split(/\s+/).filter(Boolean);
  for (const [ctrl, key] of need) {
    if (!available.includes(ctrl)) {
      throw new CgroupError(
        `cannot apply ${FLAG[key]}: cgroup v2 controller "${ctrl}" is not available in ${parent} ` +
          `(available: ${available.join(" ") || "none"})`,
      );
    }
  }
  const enabled = (readValue(join(parent, "cgroup.subtree_control")) ?? "").split(/\s+/);
  const todo = V2_WANTED.filter((c) => available.includes(c) && !enabled.includes(c));
  if (todo.length === 0) return;
  const file = join(parent, "cgroup.subtree_control");
  try {
    writeValue(file, todo.map((c) => `+${c}`).join(" "));
    return;
  } catch {
    // One refused controller fails the whole write; retry one by one to learn which.
  }
  for (const ctrl of todo) {
    try {
      writeValue(file, `+${ctrl}`);
    } catch (e) {
      const key = need.get(ctrl);
      if (key) {
        const hint = errCode(e) === "EBUSY" ? " (the parent cgroup has processes of its own)" : "";
        throw new CgroupError(
          `cannot apply ${FLAG[key]}: enabling cgroup v2 controller "${ctrl}" in ${file} failed: ${errCode(e)}${hint}`,
        );
      }
    }
  }
}
