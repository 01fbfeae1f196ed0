// Removing a container: its process (with -f), its watcher, its cgroup, its writable layer and
// state. Mounts live in the container's own mount namespace and vanish with it, so there is no
// host mount to undo.
//
// The order makes a crash at any point recoverable and a race with any other command harmless:
//   1. under the container lock: refuse a running container without force, else mark it
//      "removing" (a watcher that sees this neither records an exit nor starts the container);
//   2. kill the container (pidfd, start time verified) and wait for it and its watcher to go;
//   3. under the lock: rename the directory to a tombstone (state and all vanish atomically);
//   4. remove the cgroup and delete the tombstone.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { UserError } from "../util/errors.ts";
import { removeTree } from "../util/fs.ts";
import { containerProc, isAlive, shimProc, signalProc } from "./proc.ts";
import { removeRecordLocked, waitShimGoneSync, withContainerLock } from "./locks.ts";

const SIGKILL = 9;

export function removeContainer(engine: Engine, id: string, opts: { force: boolean }): void {
  const store = engine.containers;
  let marked: ContainerState | undefined;
  withContainerLock(store, id, () => {
    const s = store.load(id);
    if (!s) return;
    if (isAlive(containerProc(s)) && !opts.force) {
      throw new UserError(
        `cannot remove container "/${s.name}": container is running: stop the container before removing or force remove`,
      );
    }
    s.state.status = "removing";
    store.save(s);
    marked = s;
  });
  if (!marked) return;
  stopEverything(engine, id, marked);
  let tomb: string | undefined;
  let last: ContainerState | undefined;
  withContainerLock(store, id, () => {
    last = store.load(id);
    tomb = removeRecordLocked(store, id);
  });
  if (tomb) finishRemoval(last ?? marked, tomb);
}

/** Kill the container and its watcher, whatever state documents said a moment ago. */
function stopEverything(engine: Engine, id: string, st: ContainerState): void {
  const store = engine.containers;
  for (let round = 0; round < 3; round++) {
    const cur = store.load(id) ?? st;
    const ctr = containerProc(cur);
    if (isAlive(ctr)) {
      signalProc(ctr, SIGKILL);
      waitGoneSync(ctr, 5000);
    }
    if (waitShimGoneSync(store, id, round === 0 ? 5000 : 1000)) {
      if (!isAlive(containerProc(store.load(id) ?? cur))) return;
      continue;
    }
    // A watcher that does not finish within seconds is stuck: it goes too.
    signalProc(shimProc(cur), SIGKILL);
    waitShimGoneSync(store, id, 2000);
  }
}

function waitGoneSync(p: ReturnType<typeof containerProc>, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive(p)) Bun.sleepSync(5);
}

/** The parts of a removed container outside its directory, then the directory itself. */
export function finishRemoval(st: ContainerState, tomb: string): void {
  try {
    if (st.cgroupPaths) {
      const { removeCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
      removeCgroup(st.cgroupPaths);
    }
  } finally {
    removeTree(tomb);
  }
}
