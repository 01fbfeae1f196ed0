// Copying a tree that may be hostile (an image's content for a volume's copy-up, a container's
// files for `cp`) into a directory, through file descriptors only on both sides. The source is
// read with safe-tree.ts (every entry held O_PATH|O_NOFOLLOW, symlinks copied as symlinks,
// never followed); the destination is a directory fd, and every entry is made relative to its
// parent's fd without following anything: a directory is entered with O_NOFOLLOW|O_DIRECTORY,
// and whatever else stands in the way (a file, a symlink planted by the container) is removed
// first, as Docker's untar does. So neither side can lead a write or a read out of its tree.
import { readSync, writeSync } from "node:fs";
import {
  AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, SyscallError, close,
  fchmod, fchown, fsat, makedev64, statxAt,
} from "../linux/libc.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, TreeDir, TreeEntry, fgetxattrs, inodeKey, type TreeStat } from "./safe-tree.ts";

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const AT_REMOVEDIR = 0x200;

export interface CopyOptions {
  /** Keep owners (copy-up, `cp -a`); otherwise `owner` (default root) owns what is made. */
  keepOwner: boolean;
  owner?: { uid: number; gid: number };
  /** Copy xattrs other than overlayfs's own. */
  xattrs: boolean;
}

function bytes(name: string): Buffer {
  return Buffer.from(name, "latin1");
}

/** Copies entries under one destination root, remembering hard links within the copy. */
export class TreeCopier {
  private links = new Map<string, { dirFd: number; name: string }[]>();
  private linkDirs: number[] = [];
  constructor(private readonly o: CopyOptions) {}

  /** Copy `src` (a held entry) to `name` in the directory `dstFd`. */
  copyEntry(src: TreeEntry, dstFd: number, name: string): void {
    const t = src.type;
    if (t === S_IFDIR) {
      const dir = src.openDir();
      try {
        this.copyDir(dir, dstFd, name);
      } finally {
        dir.close();
      }
      return;
    }
    removeUnlessDir(dstFd, name, false);
    if (src.st.nlink > 1 && t !== S_IFDIR) {
      const first = this.links.get(inodeKey(src.st))?.[0];
      if (first) {
        try {
          fsat.linkat(first.dirFd, bytes(first.name), dstFd, bytes(name));
          return;
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e; // the first copy went meanwhile: copy again
        }
      }
    }
    const nb = bytes(name);
    if (t === S_IFREG) {
      const inFd = src.openFile();
      let outFd = -1;
      try {
        outFd = fsat.openat(dstFd, nb, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600);
        copyData(inFd, outFd);
        this.ownAndMode(outFd, src.st);
        if (this.o.xattrs) for (const [k, v] of fgetxattrs(inFd)) setX(outFd, k, v);
        fsat.utimensat(outFd, null, src.st.atimeNs, src.st.mtimeNs);
      } finally {
        close(inFd);
        if (outFd >= 0) close(outFd);
      }
    } else if (t === S_IFLNK) {
      fsat.symlinkat(src.readlink(), dstFd, nb);
      const { uid, gid } = this.ownerOf(src.st);
      fsat.fchownat(dstFd, nb, uid, gid, AT_SYMLINK_NOFOLLOW);
      fsat.utimensat(dstFd, nb, src.st.atimeNs, src.st.mtimeNs, AT_SYMLINK_NOFOLLOW);
    } else if (t === S_IFCHR || t === S_IFBLK || t === S_IFIFO) {
      const dev = t === S_IFIFO ? 0n : makedev64(src.st.rdevMajor, src.st.rdevMinor);
      fsat.mknodat(dstFd, nb, t | (src.st.mode & 0o777), dev);
      const { uid, gid } = this.ownerOf(src.st);
      fsat.fchownat(dstFd, nb, uid, gid, AT_SYMLINK_NOFOLLOW);
      fsat.fchmodat(dstFd, nb, src.st.mode & 0o7777);
      fsat.utimensat(dstFd, nb, src.st.atimeNs, src.st.mtimeNs, AT_SYMLINK_NOFOLLOW);
    } else {
      return; // sockets are not content
    }
    if (src.st.nlink > 1) this.rememberLink(src.st, dstFd, name);
  }

  /** Copy the content of `src` into the directory `name` of `dstFd` (made, or merged into). */
  copyDir(src: TreeDir, dstFd: number, name: string): void {
    const sub = openOrMakeDir(dstFd, name);
    try {
      this.copyChildren(src, sub);
      this.ownAndMode(sub, src.st);
      if (this.o.xattrs) for (const [k, v] of src.xattrs()) setX(sub, k, v);
      fsat.utimensat(sub, null, src.st.atimeNs, src.st.mtimeNs);
    } finally {
      close(sub);
    }
  }

  /** Copy every entry of `src` into the open directory `dstFd`. */
  copyChildren(src: TreeDir, dstFd: number): void {
    for (const n of src.names()) {
      const e = src.entry(n);
      if (!e) continue; // gone since the listing
      try {
        this.copyEntry(e, dstFd, n);
      } finally {
        e.close();
      }
    }
  }

  private ownerOf(st: TreeStat): { uid: number; gid: number } {
    return this.o.keepOwner ? { uid: st.uid, gid: st.gid } : (this.o.owner ?? { uid: 0, gid: 0 });
  }

  private ownAndMode(fd: number, st: TreeStat): void {
    const { uid, gid } = this.ownerOf(st);
    fchown(fd, uid, gid);
    // chmod after chown: chown clears setuid/setgid.
    fchmod(fd, st.mode & 0o7777);
  }

  private rememberLink(st: TreeStat, dirFd: number, name: string): void {
    // The directory fd is closed when its copy ends: keep a duplicate for later links.
    const dup = fsat.openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    this.linkDirs.push(dup);
    this.links.set(inodeKey(st), [{ dirFd: dup, name }]);
  }

  close(): void {
    for (const fd of this.linkDirs) close(fd);
    this.linkDirs = [];
    this.links.clear();
  }
}

function setX(fd: number, k: string, v: Buffer): void {
  if (k.startsWith("trusted.overlay.")) return;
  try {
    fsat.fsetxattr(fd, k, v);
  } catch (e) {
    // A filesystem without that namespace (e.g. security.* on some tmpfs) keeps the file.
    if (!(e instanceof SyscallError) || !["EOPNOTSUPP", "ENOTSUP", "EPERM"].includes(e.code)) throw e;
  }
}

function copyData(inFd: number, outFd: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = readSync(inFd, buf, 0, buf.length, null);
    if (n <= 0) return;
    let off = 0;
    while (off < n) off += writeSync(outFd, buf, off, n - off);
  }
}

/** Remove `name` in `dirFd` unless it is a directory (and `keepDir`), never following it. */
export function removeUnlessDir(dirFd: number, name: string, keepDir: boolean): void {
  let st: TreeStat;
  try {
    st = statxAt(dirFd, bytes(name));
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENOENT") return;
    throw e;
  }
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    fsat.unlinkat(dirFd, bytes(name));
    return;
  }
  if (keepDir) return;
  removeTreeAt(dirFd, name);
}

/** rm -rf of `name` in `dirFd`, through fds, following nothing. */
export function removeTreeAt(dirFd: number, name: string): void {
  const nb = bytes(name);
  let sub: number;
  try {
    sub = fsat.openat(dirFd, nb, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } catch (e) {
    if (e instanceof SyscallError && (e.code === "ENOTDIR" || e.code === "ELOOP")) {
      fsat.unlinkat(dirFd, nb);
      return;
    }
    if (e instanceof SyscallError && e.code === "ENOENT") return;
    throw e;
  }
  try {
    const dir = TreeDir.fromFd(sub, statxAt(sub, null));
    for (const n of dir.names()) removeTreeAt(sub, n);
  } finally {
    close(sub);
  }
  fsat.unlinkat(dirFd, nb, AT_REMOVEDIR);
}

/** Open directory `name` in `dirFd` (never through a symlink), making it (or replacing a non-directory) first. */
export function openOrMakeDir(dirFd: number, name: string, mode = 0o755): number {
  const nb = bytes(name);
  for (let i = 0; i < 3; i++) {
    try {
      return fsat.openat(dirFd, nb, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      if (e.code === "ENOTDIR" || e.code === "ELOOP") fsat.unlinkat(dirFd, nb);
      else if (e.code !== "ENOENT") throw e;
    }
    try {
      fsat.mkdirat(dirFd, nb, mode);
    } catch (e) {
      if (!(e instanceof SyscallError) || e.code !== "EEXIST") throw e;
    }
  }
  throw new Error(`cannot make directory ${name}: it keeps being replaced`);
}
