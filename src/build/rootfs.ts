// Host views of a build container's root: writable (COPY/ADD/WORKDIR write the step's files
// there, then the container's changes are committed like a RUN's) and read-only (the
// source of `COPY --from`). Every path inside is resolved with RESOLVE_IN_ROOT, so an
// image's symlinks are followed inside the image, never onto the host.
import { chownSync, closeSync, copyFileSync, chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { basename, dirname } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { withMergedView } from "../image/export.ts";
import { driverByName } from "../storage/select.ts";
import {
  AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH, O_RDONLY, SyscallError, close, lchown, llistxattr, lremovexattr, lutimes,
  openat, realSyscalls,
} from "../linux/libc.ts";
import { mkdirAllInRoot, openInRoot } from "../linux/safepath.ts";

/** Run fn with a writable path to the (not running) container's merged root. */
export async function withWritableRoot<T>(engine: Engine, st: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
  return driverByName(st.storage.driver).withWritableTree(engine.containers.containerDir(st.id), st.storage.lowerdirs, fn);
}

export { withMergedView };

/** Read a file inside a root (e.g. /etc/passwd), or null when it does not exist. */
export function readInRoot(root: string, path: string): string | null {
  const rootFd = openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    const fd = openInRoot(realSyscalls, rootFd, path, O_RDONLY);
    try {
      return readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof SyscallError) return null;
    throw e;
  } finally {
    close(rootFd);
  }
}

/** Whether `path` is a directory inside the root (symlinks followed inside it). */
export function isDirInRoot(root: string, path: string): boolean {
  const rootFd = openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    const fd = openInRoot(realSyscalls, rootFd, path, O_PATH | O_DIRECTORY);
    close(fd);
    return true;
  } catch {
    return false;
  } finally {
    close(rootFd);
  }
}

/** Create a directory (and parents, root-owned 0755) inside the root. */
export function mkdirInRoot(root: string, path: string, owner?: { uid: number; gid: number }): void {
  const rootFd = openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    const existed = isDirInRoot(root, path);
    const fd = mkdirAllInRoot(realSyscalls, rootFd, path, 0o755);
    try {
      // chown (not lchown) follows the fd's magic link to the directory itself.
      if (owner && !existed) chownSync(`/proc/self/fd/${fd}`, owner.uid, owner.gid);
    } finally {
      close(fd);
    }
  } finally {
    close(rootFd);
  }
}

export interface CopyEntry {
  /** Host path of the source. */
  src: string;
  stat: Stats;
  /** Absolute destination path inside the root. */
  dest: string;
}

export interface CopyOwnership {
  uid: number;
  gid: number;
  /** --chmod: applied to every file and directory copied. */
  mode?: number;
  /** Keep the source's owners (ADD of a local tar) instead of uid/gid. */
  keepOwners?: boolean;
}

/**
 * Copy entries (parents before children) into the root: directories merge with existing
 * ones, anything else replaces what is there (a symlink at the destination is replaced, not
 * followed). Modes and mtimes come from the source; owners from `own`.
 */
export function copyIntoRoot(root: string, entries: CopyEntry[], own: CopyOwnership): void {
  const rootFd = openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  // Each destination directory is resolved once (entries come parents first, so a
  // directory this copy made is already in the map when its children arrive).
  const parents = new Map<string, number>();
  const parentOf = (dir: string) => {
    let fd = parents.get(dir);
    if (fd === undefined) {
      fd = mkdirAllInRoot(realSyscalls, rootFd, dir, 0o755);
      parents.set(dir, fd);
    }
    return fd;
  };
  try {
    for (const e of entries) {
      const parentFd = parentOf(dirname(e.dest));
      {
        const name = basename(e.dest);
        const target = name === "/" || name === "" ? `/proc/self/fd/${parentFd}` : `/proc/self/fd/${parentFd}/${name}`;
        let existing: Stats | undefined;
        try {
          existing = lstatSync(target);
        } catch {}
        const st = e.stat;
        const uid = own.keepOwners ? st.uid : own.uid;
        const gid = own.keepOwners ? st.gid : own.gid;
        if (st.isDirectory()) {
          if (existing && !existing.isDirectory()) rmSync(target, { force: true });
          if (!existing || !existing.isDirectory()) mkdirSync(target, { mode: 0o700 });
          else if (e.dest === "/") continue; // the root itself keeps its metadata
        } else {
          if (existing) rmSync(target, { recursive: true, force: true });
          if (st.isSymbolicLink()) symlinkSync(readlinkSync(e.src), target);
          else if (st.isFile()) copyFileSync(e.src, target);
          else continue; // sockets, fifos, devices: not part of a build context copy
        }
        lchown(target, uid, gid);
        if (!st.isSymbolicLink()) chmodSync(target, own.mode ?? st.mode & 0o7777);
        const mt = BigInt(Math.floor(st.mtimeMs)) * 1_000_000n;
        lutimes(target, mt, mt);
      }
    }
  } finally {
    for (const fd of parents.values()) close(fd);
    close(rootFd);
  }
}

// What the layer writer leaves out of a tar (layer-write.ts SKIP_XATTR); the opaque marker is
// part of the diff format and stays.
const PRIVATE_XATTR = /^(trusted\.overlay\.|user\.overlay\.|security\.selinux$)/;

/**
 * A COPY/WORKDIR container never ran: its overlay upper directory is exactly the tree its
 * layer tar was written from (whiteouts in the store's own format), so it becomes the layer's
 * extracted tree by one rename instead of being deleted now and unpacked again from the tar
 * by the next step. overlay's private xattrs (copy-up origins), which the tar does not carry,
 * are dropped first, so the tree is what unpacking the tar would give.
 */
export function adoptUpperAsLayer(engine: Engine, st: ContainerState, diffId: string): boolean {
  const driver = driverByName(st.storage.driver);
  if (!driver.upperIsLayerTree) return false;
  const store = engine.images;
  if (store.isExtracted(diffId)) return false;
  const upper = driver.upperDir(engine.containers.containerDir(st.id));
  stripPrivateXattrs(upper);
  return store.locked(() => {
    if (!store.hasLayer(diffId) || store.isExtracted(diffId)) return false;
    renameSync(upper, store.layerDiffDir(diffId));
    return true;
  });
}

function stripPrivateXattrs(path: string): void {
  for (const name of llistxattr(path)) {
    if (PRIVATE_XATTR.test(name) && name !== "trusted.overlay.opaque") lremovexattr(path, name);
  }
  if (!lstatSync(path).isDirectory()) return;
  for (const n of readdirSync(path)) stripPrivateXattrs(join(path, n));
}
