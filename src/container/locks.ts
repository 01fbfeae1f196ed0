// Locking and removal for containers that may vanish while we wait. The generic helpers in
// util/fs.ts create missing directories, which would resurrect a container directory that
// `rm` just deleted; these never create one. Removal renames the directory to a tombstone
// first (one atomic step under the container lock), so anyone who queued on the lock finds
// no state afterwards, and nothing can be written into a directory being deleted.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, statSync, constants } from "node:fs";
import { join } from "node:path";
import type { ContainerState, ContainerStore } from "./state.ts";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, O_CLOEXEC } from "../linux/libc.ts";

const TOMBSTONE = ".removing-";

function openLockFile(path: string): number | undefined {
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | O_CLOEXEC, 0o600);
  } catch (e: any) {
    if (e?.code === "ENOENT" || e?.code === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * Run fn under the container's lock; undefined (fn not run) when the container is gone.
 * `anyRecord`: also when its directory holds no state.json (a dead record being removed).
 */
export function withContainerLock<T>(store: ContainerStore, id: string, fn: () => T, anyRecord = false): { value: T } | undefined {
  const dir = store.containerDir(id);
  const fd = openLockFile(join(dir, ".lock"));
  if (fd === undefined) return undefined;
  try {
    flock(fd, LOCK_EX);
    // Removal renames the directory away: a lock taken on the old one protects nothing.
    if (!existsSync(join(dir, anyRecord ? ".lock" : "state.json"))) return undefined;
    return { value: fn() };
  } finally {
    try {
      flock(fd, LOCK_UN);
    } catch {}
    closeSync(fd);
  }
}

/** Load-modify-save under the lock; undefined when the container no longer exists. */
export function updateState(
  store: ContainerStore,
  id: string,
  fn: (st: ContainerState) => void | false,
): ContainerState | undefined {
  return withContainerLock(store, id, () => {
    const st = store.load(id);
    if (!st) return undefined;
    if (fn(st) === false) return st;
    store.save(st);
    return st;
  })?.value;
}

/** Delete a container's record and directory. Call with the container lock held. */
export function removeRecordLocked(store: ContainerStore, id: string): string | undefined {
  const dir = store.containerDir(id);
  if (!existsSync(dir)) return undefined;
  const tomb = join(store.dir, `${TOMBSTONE}${id}-${process.pid}`);
  renameSync(dir, tomb);
  store.forgetName(id);
  return tomb;
}

/** Tombstones of removals that were interrupted (their process is gone): [path, container id]. */
export function abandonedTombstones(store: ContainerStore): [string, string][] {
  if (!existsSync(store.dir)) return [];
  const out: [string, string][] = [];
  for (const name of readdirSync(store.dir)) {
    if (!name.startsWith(TOMBSTONE)) continue;
    const m = /^\.removing-([a-f0-9]{64})-(\d+)$/.exec(name);
    const pid = Number(m?.[2]);
    if (pid && pid !== process.pid && existsSync(`/proc/${pid}`)) continue;
    out.push([join(store.dir, name), m?.[1] ?? ""]);
  }
  return out;
}

/**
 * The pid holding an flock on `path` (from /proc/locks), for a watcher whose record is
 * unreadable and so does not name it.
 */
export function flockHolder(path: string): number | undefined {
  let ino: number;
  try {
    ino = statSync(path).ino;
  } catch {
    return undefined;
  }
  let locks: string;
  try {
    locks = readFileSync("/proc/locks", "utf8");
  } catch {
    return undefined;
  }
  // "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"
  for (const line of locks.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== "FLOCK" || f[3] !== "WRITE") continue;
    if (Number(f[5]?.split(":")[2]) === ino) return Number(f[4]);
  }
  return undefined;
}

/**
 * The watcher holds an exclusive lock on watcher.lock for its whole life: the kernel drops it
 * when the watcher dies, however it dies, so "is a watcher running" has a true answer.
 */
export function watcherLockPath(store: ContainerStore, id: string): string {
  return join(store.containerDir(id), "watcher.lock");
}

/** Acquire the watcher lock without blocking; the fd (kept open) or undefined if held. */
export function tryWatcherLock(store: ContainerStore, id: string): number | undefined {
  const fd = openLockFile(watcherLockPath(store, id));
  if (fd === undefined) return undefined;
  if (flock(fd, LOCK_EX | LOCK_NB)) return fd;
  closeSync(fd);
  return undefined;
}

/** True while a watcher runs for the container. */
export function watcherRunning(store: ContainerStore, id: string): boolean {
  return lockHeld(watcherLockPath(store, id));
}

/** True while some process holds the flock on `path`. */
export function lockHeld(path: string): boolean {
  if (!existsSync(path)) return false;
  const fd = openLockFile(path);
  if (fd === undefined) return false;
  try {
    if (flock(fd, LOCK_SH | LOCK_NB)) {
      flock(fd, LOCK_UN);
      return false;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Wait (polling) until no watcher runs for the container; false on timeout. */
export async function waitWatcherGone(store: ContainerStore, id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (watcherRunning(store, id)) {
    if (Date.now() >= deadline) return false;
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 25);
  }
  return true;
}

export function waitWatcherGoneSync(store: ContainerStore, id: string, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (watcherRunning(store, id)) {
    if (Date.now() >= deadline) return false;
    Bun.sleepSync(5);
  }
  return true;
}
