// `pause`/`unpause`: the container's cgroup frozen (v1 freezer, v2 cgroup.freeze) and thawed.
// The freezer is the truth: lifecycle.ts's observe() reads it, so a pause killed between
// freezing and recording still shows as paused, and the record follows.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { UserError } from "../util/errors.ts";
import { observe, recordPaused, recordUnpaused } from "./lifecycle.ts";
import { settledState } from "./status.ts";

async function cgroupOf(st: ContainerState) {
  if (!st.cgroupPaths) throw new UserError(`Container ${st.id} has no cgroup to freeze`);
  const { loadCgroup, CgroupError } = await import("../linux/cgroups.ts");
  return { cg: loadCgroup(st.cgroupPaths), CgroupError };
}

export async function pauseContainer(engine: Engine, st0: ContainerState): Promise<void> {
  const st = settledState(engine, st0);
  const s = observe(st).status;
  if (s === "paused") throw new UserError(`Container ${st.id} is already paused`);
  if (s !== "running") throw new UserError(`Container ${st.id} is not running`);
  const { cg, CgroupError } = await cgroupOf(st);
  try {
    cg.freeze();
  } catch (e) {
    if (e instanceof CgroupError) throw new UserError(e.message);
    throw e;
  }
  if (!recordPaused(engine.containers, st.id, st.state.pid)) {
    // Gone, or another process meanwhile: leave nothing frozen behind.
    try {
      cg.thaw();
    } catch {}
    throw new UserError(`Container ${st.id} is not running`);
  }
}

export async function unpauseContainer(engine: Engine, st0: ContainerState): Promise<void> {
  const st = settledState(engine, st0);
  if (observe(st).status !== "paused") throw new UserError(`Container ${st.id} is not paused`);
  const { cg, CgroupError } = await cgroupOf(st);
  try {
    cg.thaw();
  } catch (e) {
    if (e instanceof CgroupError) throw new UserError(e.message);
    throw e;
  }
  recordUnpaused(engine.containers, st.id, st.state.pid);
}

/** After a SIGKILL: thaw a frozen container so the kill takes effect (as runc does). */
export function thawForKill(st: ContainerState): void {
  if (!st.cgroupPaths) return;
  try {
    const { loadCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
    const cg = loadCgroup(st.cgroupPaths);
    if (cg.isFrozen()) cg.thaw();
  } catch {
    // no freezer, or the group is gone with the container
  }
}
