// Reading a tree that its owner may be changing underneath us: a running container's root,
// its upper directory, a merged view of it. No path is ever resolved through the tree: every
// directory is an fd opened from its parent's fd, every entry is first held as an O_PATH fd
// opened with O_NOFOLLOW, and what minid reports of it (type, owner, size, link target,
// xattrs, content) comes from that held inode. So a symlink is always seen as a symlink, a
// directory swapped for a symlink to a host path between readdir and open is seen as that
// symlink, and no device the container created is ever opened (opening can have effects).
//
// /proc/self/fd/N of a held fd resolves to exactly that inode whatever happens to its name,
// from every thread of the process and whatever mount namespace the thread is in; it reopens
// an O_PATH fd for reading, and names a held directory for readdir.
import { readdirSync } from "node:fs";
import {
  AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, SyscallError, close,
  fgetxattrs, fsat, getxattrsFollow, readlinkAt, statxAt, type StatxResult,
} from "../linux/libc.ts";

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export type TreeStat = StatxResult;

/** The xattrs of a file opened by TreeEntry.openFile (or any open fd). */
export { fgetxattrs };

/** dev:ino, to recognise hard links and the output file. */
export function inodeKey(st: TreeStat): string {
  return `${st.devMajor}:${st.devMinor}:${st.ino}`;
}

function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** A directory of the tree, held open. */
export class TreeDir {
  private constructor(
    readonly fd: number,
    readonly st: TreeStat,
  ) {}

  /** Open the root of a tree. `path` is minid's own (a store path), so it may be followed. */
  static open(path: string | Uint8Array): TreeDir {
    const fd = fsat.openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      return new TreeDir(fd, statxAt(fd, null));
    } catch (e) {
      close(fd);
      throw e;
    }
  }

  static fromFd(fd: number, st: TreeStat): TreeDir {
    return new TreeDir(fd, st);
  }

  /** Entry names as bytes (latin1 strings keep one char per byte), unsorted. */
  names(): string[] {
    return readdirSync(fdPath(this.fd), { encoding: "buffer" }).map((b) => b.toString("latin1"));
  }

  /**
   * Hold the entry `name` (latin1 bytes) as it is now, or undefined if it is gone. The caller
   * closes it.
   */
  entry(name: string): TreeEntry | undefined {
    let fd: number;
    try {
      fd = fsat.openat(this.fd, Buffer.from(name, "latin1"), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    } catch (e) {
      if (e instanceof SyscallError && (e.code === "ENOENT" || e.code === "ENOTDIR")) return undefined;
      throw e;
    }
    try {
      return new TreeEntry(fd, statxAt(fd, null), this, name);
    } catch (e) {
      close(fd);
      throw e;
    }
  }

  /** The xattrs of the directory itself. */
  xattrs(): [string, Buffer][] {
    return fgetxattrs(this.fd);
  }

  close(): void {
    close(this.fd);
  }
}

/** One entry of a directory, held by an O_PATH fd: whatever happens to its name later. */
export class TreeEntry {
  constructor(
    readonly fd: number,
    readonly st: TreeStat,
    private readonly parent: TreeDir,
    readonly name: string,
  ) {}

  get type(): number {
    return this.st.mode & S_IFMT;
  }

  /** The held directory, opened for listing. */
  openDir(): TreeDir {
    if (this.type !== S_IFDIR) throw new Error("not a directory");
    const fd = fsat.openat(AT_FDCWD, fdPath(this.fd), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return TreeDir.fromFd(fd, this.st);
  }

  /** The held regular file, opened for reading (never a device, a FIFO or a symlink). */
  openFile(): number {
    if (this.type !== S_IFREG) throw new Error("not a regular file");
    return fsat.openat(AT_FDCWD, fdPath(this.fd), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  }

  readlink(): Buffer {
    return readlinkAt(this.fd, null);
  }

  /** /proc/self/fd/N: a path to exactly this inode (for link(2) and reopening). */
  get procPath(): string {
    return fdPath(this.fd);
  }

  /**
   * The entry's xattrs. A symlink's are read through its parent's fd and its name without
   * following it (the proc path would name the proc link itself); the name stays inside the
   * tree, so at worst a racing rename shows another entry's xattrs, never a host file's.
   */
  xattrs(): [string, Buffer][] {
    if (this.type !== S_IFLNK) return getxattrsFollow(fdPath(this.fd));
    const p = Buffer.concat([Buffer.from(`${fdPath(this.parent.fd)}/`), Buffer.from(this.name, "latin1")]);
    const out: [string, Buffer][] = [];
    for (const x of fsat.llistxattr(p)) {
      const v = fsat.lgetxattr(p, x);
      if (v !== null) out.push([x, Buffer.from(v)]);
    }
    return out;
  }

  close(): void {
    close(this.fd);
  }
}

/**
 * Run fn on the entry at a relative path ("etc/hosts") under `root`, reached without following
 * any symlink on the way; fn gets undefined if it does not exist or a component on the way is
 * not a directory. The entry is closed when fn returns.
 */
export function withEntryAt<T>(root: TreeDir, rel: string, fn: (e: TreeEntry | undefined) => T): T {
  const parts = rel.split("/").filter((p) => p && p !== ".");
  if (!parts.length) return fn(undefined);
  const latin1 = (s: string) => Buffer.from(s).toString("latin1");
  let dir = root;
  try {
    for (let i = 0; i < parts.length - 1; i++) {
      const e = dir.entry(latin1(parts[i]!));
      if (!e || e.type !== S_IFDIR) {
        e?.close();
        return fn(undefined);
      }
      const next = e.openDir();
      e.close();
      if (dir !== root) dir.close();
      dir = next;
    }
    const e = dir.entry(latin1(parts[parts.length - 1]!));
    try {
      return fn(e);
    } finally {
      e?.close();
    }
  } finally {
    if (dir !== root) dir.close();
  }
}
