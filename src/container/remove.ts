// Removing a container: its process (with -f), its watcher, its cgroup, its writable layer and
// state. Mounts live in the container's own mount namespace and vanish with it, so there is no
// host mount to undo.
//
// Removal frees space and never needs any first (it must work on a full disk), and a crash or
// a race at any point is harmless:
//   1. under the container lock: refuse a running container without force, else rename the
//      directory to a tombstone. That one rename is the "removing" state: from then on the
//      container is gone for everyone (a watcher finds no record to start or to record an
//      exit in, and stops), and no byte had to be written;
//   2. kill the container and its watcher (pidfd, start time verified; for an unreadable
//      record, what its cgroup and watcher lock show), wait for them to go;
//   3. remove the cgroup and delete the tombstone.
// Tombstones of removals that crashed are finished by the next rm or prune.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import { deadRecord, loadRecordAt, type ContainerState, type ContainerStore } from "./state.ts";
import { UserError } from "../util/errors.ts";
import { removeTree } from "../util/fs.ts";
import { containerProc, isAlive, procRef, watcherProc, signalProc, type ProcRef } from "./proc.ts";
import { abandonedTombstones, flockHolder, lockHeld, removeRecordLocked, withContainerLock } from "./locks.ts";
import { canDelete, observe } from "./lifecycle.ts";
import { trace } from "../util/trace.ts";
import { thawForKill } from "./pause.ts";

const SIGKILL = 9;

export function removeContainer(engine: Engine, id: string, opts: { force: boolean; volumes?: boolean }): void {
  const store = engine.containers;
  let tomb: string | undefined;
  let last: ContainerState | undefined;
  let wasRunning = false;
  withContainerLock(
    store,
    id,
    () => {
      const s = store.load(id) ?? deadRecord(id, "no record");
      if (!canDelete(s, opts.force)) {
        if (observe(s).status === "paused") {
          throw new UserError(`You cannot remove a paused container ${s.id}. Unpause and then stop the container before attempting removal or force remove`);
        }
        if (observe(s).status === "restarting") {
          throw new UserError(`cannot remove container "/${s.name}": container is restarting: stop the container before removing or force remove`);
        }
        throw new UserError(
          `cannot remove container "/${s.name}": container is running: stop the container before removing or force remove`,
        );
      }
      last = s;
      wasRunning = canDelete(s, false) === false;
      tomb = removeRecordLocked(store, id);
    },
    true,
  );
  if (tomb && last) {
    finishRemoval(last, tomb);
    if (wasRunning) {
      // rm -f of a live container: Docker's journal has its kill and its death before the destroy.
      const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
      const a = { image: last.image, name: last.name };
      recordEvent(engine.root, { Type: "container", Action: "kill", id: last.id, attributes: { ...a, signal: "9" } });
      recordEvent(engine.root, { Type: "container", Action: "die", id: last.id, attributes: { ...a, exitCode: "137" } });
    }
    announceDestroy(engine.root, last);
    // rm -v: the anonymous volumes it made go with it (after the record, so none is in use).
    if (opts.volumes) {
      const { removeAnonymousVolumes } = require("./mounts.ts") as typeof import("./mounts.ts");
      removeAnonymousVolumes(engine.root, last, () => store.list());
    }
  }
  sweepRemovals(store);
}

/** `container prune`: every stopped, never started or dead container, and leftovers of crashed creates and removals. */
export function pruneContainers(engine: Engine, createdBefore: number, onError: (e: unknown) => void): string[] {
  const deleted: string[] = [];
  for (const st of engine.containers.list()) {
    const s = observe(st).status;
    if (s !== "exited" && s !== "created" && s !== "dead") continue;
    if (Date.parse(st.created) >= createdBefore) continue;
    try {
      removeContainer(engine, st.id, { force: false });
      deleted.push(st.id);
    } catch (e) {
      onError(e);
    }
  }
  sweepRemovals(engine.containers);
  return deleted;
}

/** Finish removals and creates that crashed half-way (their process is gone). */
export function sweepRemovals(store: ContainerStore): void {
  for (const [tomb, id] of abandonedTombstones(store)) {
    try {
      finishRemoval(loadRecordAt(tomb, id) ?? deadRecord(id, "no record"), tomb);
    } catch {
      // still busy (a process that would not die): the next sweep tries again
    }
  }
  for (const dir of store.abandonedCreates()) removeTree(dir);
}

/**
 * Stop what is left of a container whose directory is now `tomb`, then delete it: the
 * container's process, its watcher (it goes by itself once the container is gone; a stuck
 * one is killed), its cgroup, and the tombstone.
 */
export function finishRemoval(st: ContainerState, tomb: string): void {
  const watcherLock = join(tomb, "watcher.lock");
  const watcher = (): ProcRef | undefined => {
    if (!st.broken) return watcherProc(st);
    // An unreadable record names no watcher: the holder of its lock is it.
    const pid = flockHolder(watcherLock);
    return pid ? procRef(pid) : undefined;
  };
  // A watcher waiting out a restart back-off is woken: it finds the container gone and ends.
  if (st.state.status === "restarting") signalProc(watcher(), 10 /* SIGUSR1 */);
  for (let round = 0; round < 3; round++) {
    const ctr = containerProc(st);
    if (isAlive(ctr)) {
      signalProc(ctr, SIGKILL);
      thawForKill(st); // a paused (v1-frozen) process acts on SIGKILL only once thawed
      waitSync(() => !isAlive(ctr), 5000);
    }
    killCgroup(st);
    if (waitSync(() => !lockHeld(watcherLock), round === 0 ? 5000 : 1000)) break;
    // A watcher that does not finish within seconds is stuck: it goes too.
    const w = watcher();
    signalProc(w, SIGKILL);
    waitSync(() => !lockHeld(watcherLock), 2000);
  }
  try {
    trace("rm killed");
    removeCgroupOf(st);
    trace("rm cgroup");
    releaseNetwork(st, tomb);
    releasePorts(st, tomb);
    trace("rm network");
  } finally {
    removeTree(tomb);
  }
}

/** The container's addresses and any veth end a killed watcher left (network/attach.ts). */
function releaseNetwork(st: ContainerState, tomb: string): void {
  if (!st.network?.endpoints.length) return;
  const { teardownNetwork } = require("../network/attach.ts") as typeof import("../network/attach.ts");
  try {
    // tomb is <root>/containers/.removing-…
    teardownNetwork(join(tomb, "..", ".."), st, tomb);
  } catch {
    // an address left allocated is reclaimed by the next allocation (ipam.ts)
  }
}

/** The port rules a killed watcher left (network/container-ports.ts); by the id alone. */
function releasePorts(st: ContainerState, tomb: string): void {
  if (!st.ports) return;
  // ports.json goes only after the watcher took its rules away: without it there is nothing
  // to look for (and no nft process to spend on a clean --rm).
  const { mayHaveRules } = require("../network/portmap.ts") as typeof import("../network/portmap.ts");
  if (!mayHaveRules(tomb)) return;
  const { dropStaleRules } = require("../network/container-ports.ts") as typeof import("../network/container-ports.ts");
  try {
    dropStaleRules(st);
  } catch (e) {
    (require("../util/log.ts") as typeof import("../util/log.ts")).log.warn(`${(e as Error).message} (remove them with: nft list table ip minid)`);
  }
}

function waitSync(done: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    Bun.sleepSync(5);
  }
  return true;
}

/** The cgroup directories of a container: recorded, or (unreadable record) where minid puts them. */
function cgroupDirs(st: ContainerState): string[] {
  const p = st.cgroupPaths;
  if (p) return p.version === "v2" ? [p.path] : [...new Set(Object.values(p.paths))];
  if (!st.broken || !/^[a-f0-9]{64}$/.test(st.id)) return [];
  const root = "/sys/fs/cgroup";
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  let tops: string[];
  try {
    tops = existsSync(join(root, "cgroup.controllers")) ? [root] : readdirSync(root).map((c) => join(root, c));
  } catch {
    return [];
  }
  return [...new Set(tops.map((d) => join(d, "minid", st.id)).filter((d) => existsSync(d)))];
}

/** Kill every process still in the container's cgroup (an unreadable record names none of them). */
function killCgroup(st: ContainerState): void {
  if (!st.broken) return;
  for (const d of cgroupDirs(st)) {
    let pids: number[] = [];
    try {
      pids = readFileSync(join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      continue;
    }
    for (const pid of pids) {
      const p = procRef(pid);
      signalProc(p, SIGKILL);
      waitSync(() => !isAlive(p), 2000);
    }
  }
}

function removeCgroupOf(st: ContainerState): void {
  if (st.cgroupPaths) {
    const { removeCgroup } = require("../linux/cgroups.ts") as typeof import("../linux/cgroups.ts");
    removeCgroup(st.cgroupPaths);
    return;
  }
  const { rmdirSync } = require("node:fs") as typeof import("node:fs");
  for (const d of cgroupDirs(st)) {
    try {
      rmdirSync(d);
    } catch (e: any) {
      if (e?.code !== "ENOENT") throw e; // v1 controllers mounted together show one directory twice
    }
  }
}

/** The journal's `destroy` (for rm, prune, --rm). */
export function announceDestroy(root: string, st: ContainerState): void {
  const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
  recordEvent(root, { Type: "container", Action: "destroy", id: st.id, attributes: { image: st.image, name: st.name } });
}
