// Removing a container: its process (with -f), its writable layer and state. Mounts live in
// the container's own mount namespace and vanish with it, so there is no host mount to undo.
import type { Engine } from "../engine.ts";
import { isProcessAlive } from "./state.ts";
import { UserError } from "../util/errors.ts";

export function removeContainer(engine: Engine, id: string, opts: { force: boolean }): void {
  const st = engine.containers.load(id);
  if (!st) return;
  const alive = st.state.pid && isProcessAlive(st.state.pid, st.state.pidStart);
  if (alive) {
    if (!opts.force) {
      throw new UserError(
        `cannot remove container "${st.name}": container is running: stop the container before removing or force remove (rm -f)`,
      );
    }
    try {
      process.kill(st.state.pid, "SIGKILL");
    } catch {}
    waitGone(st.state.pid, st.state.pidStart);
  }
  if (st.cgroupPaths) {
    const { removeCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
    removeCgroup(st.cgroupPaths);
  }
  engine.containers.remove(id);
}

function waitGone(pid: number, start: string | undefined): void {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && isProcessAlive(pid, start)) Bun.sleepSync(10);
}
