// Flatten overlay-form layers into one plain directory: the vfs driver's "mount" for hosts
// without overlayfs. Whiteouts (0/0 char devices) delete what lower layers put there; opaque
// directories drop the lower directory's content. Ownership, modes, times, xattrs, devices,
// symlinks and hardlinks (within a layer) are preserved.
import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import {
  lchown, chmod, lutimes, lsetxattr, lgetxattr, llistxattr, mknodat, symlinkat, AT_FDCWD, S_IFCHR,
  S_IFBLK, S_IFIFO, O_PATH, O_DIRECTORY, O_CLOEXEC, openat, close, realSyscalls,
} from "../linux/libc.ts";
import { openInRoot } from "../linux/safepath.ts";

const OPAQUE = "trusted.overlay.opaque";

/** overlayfs's whiteout: a 0/0 character device (plain or bigint stats). */
export function isWhiteout(st: { isCharacterDevice(): boolean; rdev: number | bigint }): boolean {
  return st.isCharacterDevice() && Number(st.rdev) === 0;
}

export function copyLayers(layers: string[], dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const layer of layers) copyInto(layer, dest, new Map());
}

/**
 * Copy one tree (a directory or a file) to `dest`, keeping owners, modes, xattrs and times.
 * `src` itself is stat()ed, so it may be a /proc/self/fd magic link to what it names.
 */
export function copyTree(src: string, dest: string): void {
  const st = statSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest);
    copyInto(src, dest, new Map());
  } else if (st.isFile()) copyFileSync(src, dest);
  else throw new Error(`${src}: not a file or directory`);
  copyMeta(src, dest, st, true);
}

/**
 * Copy `path` inside `root` (symlinks on the way followed inside the root, never out of it)
 * to `dest`; false when it does not exist.
 */
export function copyTreeInRoot(root: string, path: string, dest: string): boolean {
  const rootFd = openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  let fd = -1;
  try {
    try {
      fd = openInRoot(realSyscalls, rootFd, path, O_PATH);
    } catch {
      return false;
    }
    copyTree(`/proc/self/fd/${fd}`, dest);
    return true;
  } finally {
    if (fd >= 0) close(fd);
    close(rootFd);
  }
}

function copyInto(src: string, dst: string, links: Map<string, string>): void {
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = join(dst, name);
    const st = lstatSync(s);
    if (isWhiteout(st)) {
      rmSync(d, { recursive: true, force: true });
      continue;
    }
    let existing: Stats | undefined;
    try {
      existing = lstatSync(d);
    } catch {}
    if (st.isDirectory()) {
      const opaque = lgetxattr(s, OPAQUE)?.toString() === "y";
      if (existing && (!existing.isDirectory() || opaque)) {
        rmSync(d, { recursive: true, force: true });
        existing = undefined;
      }
      if (!existing) mkdirSync(d);
      copyInto(s, d, links);
      copyMeta(s, d, st);
      continue;
    }
    if (existing) rmSync(d, { recursive: true, force: true });
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? links.get(key) : undefined;
    if (first) {
      linkSync(first, d);
      continue;
    }
    if (st.isSymbolicLink()) symlinkat(readlinkSync(s), AT_FDCWD, d);
    else if (st.isFile()) copyFileSync(s, d);
    else if (st.isCharacterDevice()) mknodat(AT_FDCWD, d, S_IFCHR | (st.mode & 0o7777), st.rdev);
    else if (st.isBlockDevice()) mknodat(AT_FDCWD, d, S_IFBLK | (st.mode & 0o7777), st.rdev);
    else if (st.isFIFO()) mknodat(AT_FDCWD, d, S_IFIFO | (st.mode & 0o7777), 0);
    else continue; // sockets are not content
    if (st.nlink > 1) links.set(key, d);
    copyMeta(s, d, st);
  }
}

function copyMeta(s: string, d: string, st: Stats, follow = false): void {
  lchown(d, st.uid, st.gid);
  // A followed source (a /proc/self/fd link) is read through its target; l* calls would
  // read the link itself.
  const from = follow ? realpathOfFd(s) : s;
  for (const name of llistxattr(from)) {
    if (name.startsWith("trusted.overlay.")) continue;
    const v = lgetxattr(from, name);
    if (v) lsetxattr(d, name, v);
  }
  // chmod after chown: chown clears setuid/setgid.
  if (!st.isSymbolicLink()) chmod(d, st.mode & 0o7777);
  const t = follow ? statSync(s, { bigint: true }) : lstatSync(s, { bigint: true });
  lutimes(d, t.atimeNs, t.mtimeNs);
}

/** For xattr reads of a /proc/self/fd/N path: the path its object is reachable by here. */
function realpathOfFd(p: string): string {
  // An O_PATH fd's magic link cannot be read with l*xattr; the directory itself can, by
  // "<fd>/." (a directory) — files have no such trick, and their xattrs are then skipped.
  try {
    return statSync(p).isDirectory() ? `${p}/.` : p;
  } catch {
    return p;
  }
}
