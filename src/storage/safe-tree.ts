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
// an O_PATH fd for reading. A held directory is listed through its own fd (getdents64).
import {
  AT_FDCWD, DT_DIR, DT_REG, DT_UNKNOWN, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, OPEN_TREE_CLONE, O_CLOEXEC,
  O_DIRECTORY, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, SyscallError, close, fgetxattrs, fsat,
  getxattrsFollow, mountSetattrFd, openTree, readDirTypes, readlinkAt, statxAt, statxModeAt, type StatxResult,
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
    /** The tree is a private read-only nodev clone of its mount: opening a name cannot open a device. */
    private readonly nodev: boolean,
  ) {}

  /**
   * Open the root of a tree. `path` is minid's own (a store path), so it may be followed.
   * With `clone` (and CAP_SYS_ADMIN on a kernel with mount_setattr, 5.12+), the tree is read
   * through a detached read-only, nodev, nosuid, noexec copy of its mount, visible nowhere:
   * there a regular file can be opened by name (O_NOFOLLOW) without the O_PATH reopen, since
   * a device swapped in meanwhile cannot be opened. Hard links from such a tree to another
   * mount fail (EXDEV): callers that link entries out pass clone: false.
   */
  static open(path: string | Uint8Array, opts: { clone?: boolean } = {}): TreeDir {
    if (opts.clone) {
      let tree = -1;
      try {
        tree = openTree(AT_FDCWD, typeof path === "string" ? path : Buffer.from(path).toString(), OPEN_TREE_CLONE);
        mountSetattrFd(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        const fd = fsat.openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(tree); // the open directory keeps the detached mount alive
        try {
          return new TreeDir(fd, statxAt(fd, null), true);
        } catch (e) {
          close(fd);
          throw e;
        }
      } catch (e) {
        if (tree >= 0) {
          try {
            close(tree);
          } catch {}
        }
        if (!(e instanceof SyscallError)) throw e;
        // No privilege or an older kernel: the O_PATH way below is as safe, only slower.
      }
    }
    const fd = fsat.openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    try {
      return new TreeDir(fd, statxAt(fd, null), false);
    } catch (e) {
      close(fd);
      throw e;
    }
  }

  static fromFd(fd: number, st: TreeStat, nodev = false): TreeDir {
    return new TreeDir(fd, st, nodev);
  }

  /** Entry names as bytes (latin1 strings keep one char per byte), unsorted. */
  names(): string[] {
    return readDirTypes(this.fd).names;
  }

  /** Entry names (as names() gives them) with the type the directory records for each (DT_*). */
  list(): { names: string[]; types: number[] } {
    return readDirTypes(this.fd);
  }

  /**
   * Hold the entry `name` (latin1 bytes) as it is now, or undefined if it is gone. The caller
   * closes it. `dtype`, the type list() gave, spares a statx of the name; it is only a hint.
   */
  entry(name: string, dtype = DT_UNKNOWN): TreeEntry | undefined {
    const bytes = Buffer.from(name, "latin1");
    // Listed as anything but a file or a directory: never opened by name, held the O_PATH way
    // (which reads the type again).
    if (this.nodev && (dtype === DT_UNKNOWN || dtype === DT_REG || dtype === DT_DIR)) {
      const fast = this.openDirect(bytes, name, dtype);
      if (fast !== null) return fast;
    }
    let fd: number;
    try {
      fd = fsat.openat(this.fd, bytes, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    } catch (e) {
      if (e instanceof SyscallError && (e.code === "ENOENT" || e.code === "ENOTDIR")) return undefined;
      throw e;
    }
    try {
      return new TreeEntry(fd, statxAt(fd, null), this, name, false, false);
    } catch (e) {
      close(fd);
      throw e;
    }
  }

  /**
   * On a nodev clone: a regular file or a directory opened by name, never following a final
   * symlink; what is described is the opened inode (statx of the fd). undefined: gone; null:
   * anything else, or it changed meanwhile (the caller takes the O_PATH way).
   */
  private openDirect(bytes: Buffer, name: string, dtype: number): TreeEntry | undefined | null {
    // Only the type is needed here: the entry is described by statx of what gets opened. The
    // listing's type stands in for a statx of the name. What makes the open safe is not that
    // look but the same four things either way: nodev, O_NOFOLLOW, O_NONBLOCK, the check of
    // the opened fd below. The look is older, though (from the listing, not just before the
    // open), so a container swapping a file for a FIFO meanwhile is likelier to have it opened,
    // which wakes a writer waiting on that FIFO: an effect inside the container only.
    let fmt = dtype === DT_REG ? S_IFREG : dtype === DT_DIR ? S_IFDIR : 0;
    if (!fmt) {
      const mode = statxModeAt(this.fd, bytes);
      if (mode === -2 /* ENOENT */ || mode === -20 /* ENOTDIR */) return undefined;
      if (mode < 0) return null;
      fmt = mode & S_IFMT;
      if (fmt !== S_IFREG && fmt !== S_IFDIR) return null;
    }
    let fd: number;
    try {
      // O_DIRECTORY is checked before any open; O_NONBLOCK so a FIFO swapped in never blocks.
      const flags = fmt === S_IFDIR ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK | O_NOCTTY;
      fd = fsat.openat(this.fd, bytes, flags | O_NOFOLLOW | O_CLOEXEC);
    } catch (e) {
      if (e instanceof SyscallError) return e.code === "ENOENT" ? undefined : null; // gone; or swapped (ELOOP, ENOTDIR, EACCES for a device…)
      throw e;
    }
    try {
      const now = statxAt(fd, null);
      if ((now.mode & S_IFMT) !== fmt) {
        close(fd);
        return null;
      }
      return new TreeEntry(fd, now, this, name, true, this.nodev);
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
    /** O_PATH, or (when `opened`) a real open fd of the regular file or directory. */
    public fd: number,
    readonly st: TreeStat,
    private readonly parent: TreeDir,
    readonly name: string,
    private readonly opened: boolean,
    private readonly nodev: boolean,
  ) {}

  get type(): number {
    return this.st.mode & S_IFMT;
  }

  /** The held directory, opened for listing (the caller closes it). */
  openDir(): TreeDir {
    if (this.type !== S_IFDIR) throw new Error("not a directory");
    if (this.opened) return TreeDir.fromFd(this.take(), this.st, this.nodev);
    const fd = fsat.openat(AT_FDCWD, fdPath(this.fd), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return TreeDir.fromFd(fd, this.st, this.nodev);
  }

  /** The held regular file, opened for reading (never a device, a FIFO or a symlink); the caller closes it. */
  openFile(): number {
    if (this.type !== S_IFREG) throw new Error("not a regular file");
    if (this.opened) return this.take();
    return fsat.openat(AT_FDCWD, fdPath(this.fd), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  }

  /** Hand the open fd over to the caller; the entry is then closed. */
  private take(): number {
    if (this.fd < 0) throw new Error("entry already opened");
    const fd = this.fd;
    this.fd = -1;
    return fd;
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
    if (this.opened) return fgetxattrs(this.fd);
    if (this.type !== S_IFLNK) return getxattrsFollow(fdPath(this.fd));
    const p = Buffer.concat([Buffer.from(`${fdPath(this.parent.fd)}/`), Buffer.from(this.name, "latin1")]);
    const out: [string, Buffer][] = [];
    try {
      for (const x of fsat.llistxattr(p)) {
        const v = fsat.lgetxattr(p, x);
        if (v !== null) out.push([x, Buffer.from(v)]);
      }
    } catch (e) {
      // Renamed or removed since it was held: the symlink itself is still archived, without
      // xattrs (which no name reaches any more).
      if (e instanceof SyscallError && (e.code === "ENOENT" || e.code === "ENOTDIR")) return [];
      throw e;
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) close(this.fd);
    this.fd = -1;
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
