// `minid update`: new resource limits for a container, written to its cgroup at once when it
// runs (the record keeps them for the next start otherwise), and a new restart policy for the
// watcher to follow. Limits are checked with run's own rules before anything is written.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import type { CgroupLimits } from "../linux/cgroups.ts";
import { UserError } from "../util/errors.ts";
import { parseResources, type ResourceFlags } from "./options.ts";
import { isRunning, settledState } from "./status.ts";

export interface UpdateFlags extends ResourceFlags {
  restart?: string;
}

/** Docker's --restart grammar: the same parser run and create use (restart-policy.ts). */
import { parseRestartPolicy as parseRestart } from "./restart-policy.ts";
export { parseRestart };

export function hasUpdate(f: UpdateFlags): boolean {
  return Object.values(f).some((v) => v !== undefined && v !== false);
}

export async function updateContainer(engine: Engine, st0: ContainerState, f: UpdateFlags): Promise<void> {
  const { restart, ...res } = f;
  const given = await parseResources(res);
  const policy = restart !== undefined ? parseRestart(restart) : undefined;
  const st = settledState(engine, st0);
  if (st.broken) throw new UserError(`container ${st.id} has an unreadable record (${st.broken}): remove it with minid rm -f`);
  const limits: CgroupLimits = { ...(st.resources ?? {}), ...given };
  // Docker: --memory alone keeps swap at twice the memory; a swap limit needs a memory limit.
  if (given.memory !== undefined && res.memorySwap === undefined) delete limits.memorySwap;
  if (limits.memorySwap !== undefined && limits.memorySwap > 0 && !limits.memory) {
    throw new UserError("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  }
  const { validateLimits } = await import("../linux/cgroups.ts");
  try {
    validateLimits(limits);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (isRunning(st) && st.cgroupPaths) await applyLive(st, limits, given);
  engine.containers.update(st.id, (s) => {
    s.resources = limits;
    if (policy) (s as ContainerState & { restartPolicy?: unknown }).restartPolicy = policy;
  });
}

/** Rewrite the running container's cgroup files (the group exists: creating it again only applies the limits). */
async function applyLive(st: ContainerState, limits: CgroupLimits, given: CgroupLimits): Promise<void> {
  const { createCgroup } = await import("../linux/cgroups.ts");
  const { existsSync, writeFileSync } = await import("node:fs");
  const p = st.cgroupPaths!;
  const write = (file: string, v: string) => {
    if (existsSync(file)) writeFileSync(file, v);
  };
  try {
    if (p.version === "v1") {
      const mem = p.paths.memory;
      // memsw must stay >= the memory limit at every write: lift it first, the limits follow.
      if (mem && given.memory !== undefined) write(`${mem}/memory.memsw.limit_in_bytes`, "-1");
      if (p.paths.cpu && given.nanoCpus === 0) write(`${p.paths.cpu}/cpu.cfs_quota_us`, "-1");
    } else if (given.nanoCpus === 0) {
      write(`${p.path}/cpu.max`, "max 100000");
    }
    createCgroup(`minid/${st.id}`, { ...limits, allowAllDevices: st.security?.privileged }, { version: p.version });
  } catch (e) {
    throw new UserError(`Cannot update container ${st.id}: ${(e as Error).message}`);
  }
}
