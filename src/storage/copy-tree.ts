// Flatten overlay-form layers into one plain directory: the vfs driver's "mount" for hosts
// without overlayfs. Whiteouts (0/0 char devices) delete what lower layers put there; opaque
// directories drop the lower directory's content. Ownership, modes, times, xattrs, devices,
// symlinks and hardlinks (within a layer) are preserved.
import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, type Stats } from "node:fs";
import { join } from "node:path";
import {
  lchown, chmod, lutimes, lsetxattr, lgetxattr, llistxattr, mknodat, symlinkat, AT_FDCWD, S_IFCHR,
  S_IFBLK, S_IFIFO,
} from "../linux/libc.ts";

const OPAQUE = "trusted.overlay.opaque";

/** overlayfs's whiteout: a 0/0 character device (plain or bigint stats). */
export function isWhiteout(st: { isCharacterDevice(): boolean; rdev: number | bigint }): boolean {
  return st.isCharacterDevice() && Number(st.rdev) === 0;
}

export function copyLayers(layers: string[], dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const layer of layers) copyInto(layer, dest, new Map());
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

function copyMeta(s: string, d: string, st: Stats): void {
  lchown(d, st.uid, st.gid);
  for (const name of llistxattr(s)) {
    if (name.startsWith("trusted.overlay.")) continue;
    const v = lgetxattr(s, name);
    if (v) lsetxattr(d, name, v);
  }
  // chmod after chown: chown clears setuid/setgid.
  if (!st.isSymbolicLink()) chmod(d, st.mode & 0o7777);
  const t = lstatSync(s, { bigint: true });
  lutimes(d, t.atimeNs, t.mtimeNs);
}
