// `minid cp`: files between a container (running or not) and the host, or a tar stream, with
// Docker's rules for trailing `/` and `/.`, for symlinks (copied as symlinks; -L follows the
// source's), and its errors.
//
// A container path is only ever resolved inside the container's root: the root is held as a
// directory fd (the running container's /proc/PID/root, or for a stopped one its root and
// mounts set up in a mount namespace private to this thread), every lookup from it is
// openat2(RESOLVE_IN_ROOT), so `..` and absolute symlinks stay inside it, and the copy itself
// goes through fds only (storage/tree-copy.ts: nothing followed, a symlink in the way of a
// write is replaced, never written through).
import { basename, dirname, normalize, resolve as resolvePath } from "node:path";
import { mkdirSync, rmdirSync } from "node:fs";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { UserError } from "../util/errors.ts";
import { removeTree, FileLock } from "../util/fs.ts";
import * as libc from "../linux/libc.ts";
import { S_IFDIR, S_IFMT, TreeDir, TreeEntry } from "../storage/safe-tree.ts";
import { TreeCopier, type CopyOptions } from "../storage/tree-copy.ts";

export interface CpOptions {
  /** -a: keep uid/gid. */
  archive: boolean;
  /** -L: follow a symlink at the source path. */
  followLink: boolean;
}

/** One side of the copy: how its paths are opened. */
interface Side {
  /** A directory, opened for listing (following symlinks in the side's own way). */
  openDir(path: string): number;
  /** Anything, O_PATH, following a final symlink in the side's own way. */
  openPath(path: string): number;
  notFound(path: string): UserError;
  missingParent(path: string): UserError;
}

function rel(p: string): string {
  return p.replace(/^\/+/, "") || ".";
}

function containerSide(rootFd: number, ref: string): Side {
  const how = libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS;
  return {
    openDir: (p) => libc.openat2(rootFd, rel(p), libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC, how),
    openPath: (p) => libc.openat2(rootFd, rel(p), libc.O_PATH | libc.O_CLOEXEC, how),
    // The words of Debian's docker 20.10 CLI (newer CLIs say "Could not find the file P in container C").
    notFound: (p) => new UserError(`No such container:path: ${ref}:${p}`),
    missingParent: (p) => new UserError(`No such container:path: ${ref}:${p}`),
  };
}

// The host's paths are the user's: they are followed as any cp follows them.
const hostSide: Side = {
  openDir: (p) => libc.openat(libc.AT_FDCWD, p, libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC),
  openPath: (p) => libc.openat(libc.AT_FDCWD, p, libc.O_PATH | libc.O_CLOEXEC),
  notFound: (p) => new UserError(`stat ${p}: no such file or directory`),
  missingParent: (p) => new UserError(`invalid output path: directory "${p}" does not exist`),
};

function isMissing(e: unknown): boolean {
  return e instanceof libc.SyscallError && (e.code === "ENOENT" || e.code === "ENOTDIR");
}

/** `CONTAINER:PATH` or a local path (one that starts with / or . or has no colon). */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith("/") || arg.startsWith(".")) return { path: arg };
  const i = arg.indexOf(":");
  if (i <= 0) return { path: arg };
  const p = arg.slice(i + 1);
  return { container: arg.slice(0, i), path: p.startsWith("/") ? p : `/${p}` };
}

interface Source {
  entry: TreeEntry;
  /** The directory the entry was found in (closed with it). */
  parent?: TreeDir;
  name: string;
  /** `SRC/.`: the directory's content, not the directory. */
  contentsOnly: boolean;
}

function openSource(side: Side, path: string, follow: boolean): Source {
  const contentsOnly = /(^|\/)\.$/.test(path);
  const trailing = path.endsWith("/") || contentsOnly;
  const clean = normalize(path).replace(/\/+$/, "") || "/";
  const name = clean === "/" ? "." : basename(clean);
  if (follow || trailing || clean === "/" || clean === ".") {
    let fd: number;
    try {
      fd = side.openPath(clean);
    } catch (e) {
      if (isMissing(e)) throw side.notFound(path);
      throw e;
    }
    const st = libc.statxAt(fd, null);
    if (trailing && (st.mode & S_IFMT) !== S_IFDIR) {
      libc.close(fd);
      throw new UserError(`not a directory: ${path}`);
    }
    // A followed entry is never a symlink: no parent is needed for its xattrs.
    return { entry: new TreeEntry(fd, st, undefined as unknown as TreeDir, name, false, false), name, contentsOnly };
  }
  let dfd: number;
  try {
    dfd = side.openDir(dirname(clean));
  } catch (e) {
    if (isMissing(e)) throw side.notFound(path);
    throw e;
  }
  const parent = TreeDir.fromFd(dfd, libc.statxAt(dfd, null));
  const entry = parent.entry(Buffer.from(name).toString("latin1"));
  if (!entry) {
    parent.close();
    throw side.notFound(path);
  }
  return { entry, parent, name, contentsOnly: false };
}

function closeSource(s: Source): void {
  s.entry.close();
  s.parent?.close();
}

/** Copy `src` to `dst` on `side` with Docker's destination rules. */
function copyInto(src: Source, side: Side, dst: string, o: CopyOptions): void {
  const trailing = dst.endsWith("/") || /(^|\/)\.$/.test(dst);
  const clean = normalize(dst).replace(/\/+$/, "") || "/";
  const srcIsDir = src.entry.type === S_IFDIR;
  const copier = new TreeCopier(o);
  try {
    let dirFd = -1;
    let exists = false;
    try {
      const fd = side.openPath(clean);
      exists = true;
      const isDir = (libc.statxAt(fd, null).mode & S_IFMT) === S_IFDIR;
      libc.close(fd);
      if (isDir) dirFd = side.openDir(clean);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    if (dirFd >= 0) {
      try {
        if (srcIsDir && src.contentsOnly) {
          const d = src.entry.openDir();
          try {
            copier.copyChildren(d, dirFd);
          } finally {
            d.close();
          }
        } else copier.copyEntry(src.entry, dirFd, latin1(src.name));
      } finally {
        libc.close(dirFd);
      }
      return;
    }
    if (exists && srcIsDir) throw new UserError("cannot copy directory");
    if (trailing) throw new UserError("no such directory");
    let parentFd: number;
    try {
      parentFd = side.openDir(dirname(clean));
    } catch (e) {
      if (isMissing(e)) throw side.missingParent(dirname(clean));
      throw e;
    }
    try {
      // A file over a file (or a symlink) replaces that entry; a directory is made.
      copier.copyEntry(src.entry, parentFd, latin1(basename(clean)));
    } finally {
      libc.close(parentFd);
    }
  } finally {
    copier.close();
  }
}

function latin1(s: string): string {
  return Buffer.from(s).toString("latin1");
}

/**
 * Run fn with an fd of the container's root. A running container's is its /proc/PID/root
 * (checked to be the recorded init by its start time); a stopped one's root and bind mounts are
 * mounted in this thread's private mount namespace, under the container's lock.
 */
async function withContainerRoot<T>(engine: Engine, st: ContainerState, fn: (rootFd: number) => Promise<T> | T): Promise<T> {
  const { isRunning } = await import("./lifecycle.ts");
  const { containerProc, isAlive } = await import("./proc.ts");
  if (st.broken) throw new UserError(`container ${st.id} has an unreadable record (${st.broken}): remove it with minid rm -f`);
  if (isRunning(st)) {
    const fd = libc.openat(libc.AT_FDCWD, `/proc/${st.state.pid}/root`, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC);
    try {
      // Opened, then checked: a PID reused meanwhile would have another start time.
      if (!isAlive(containerProc(st))) throw new UserError(`container ${st.name} stopped while copying: try again`);
      return await fn(fd);
    } finally {
      libc.close(fd);
    }
  }
  const lock = FileLock.acquire(`${engine.containers.containerDir(st.id)}/.lock`)!;
  const { enterPrivateMountNs } = await import("../storage/overlay.ts");
  const { driverByName } = await import("../storage/select.ts");
  const { mountContainerView } = await import("../runtime/rootfs.ts");
  const target = engine.images.scratch("cp-root");
  mkdirSync(target, { mode: 0o700 });
  const cwd = process.cwd();
  let fd = -1;
  let mounted = false;
  try {
    enterPrivateMountNs();
    const rootfs = driverByName(st.storage.driver).rootfs(engine.containers.containerDir(st.id), st.storage.lowerdirs);
    mounted = true;
    mountContainerView({ ...rootfs, target }, st.mounts);
    process.chdir(cwd);
    fd = libc.openat(libc.AT_FDCWD, target, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC);
    return await fn(fd);
  } finally {
    try {
      process.chdir(cwd);
    } catch {}
    if (fd >= 0) libc.close(fd);
    if (mounted) {
      try {
        libc.umount2(target, libc.MNT_DETACH);
      } catch {}
    }
    try {
      rmdirSync(target);
    } catch {}
    lock.release();
  }
}

/** `minid cp SRC DST` (one side CONTAINER:PATH, the other a host path or `-`). */
export async function copyFiles(engine: Engine, srcArg: string, dstArg: string, o: CpOptions): Promise<void> {
  const s = srcArg === "-" ? { path: "-" } : splitCpArg(srcArg);
  const d = dstArg === "-" ? { path: "-" } : splitCpArg(dstArg);
  if (s.container && d.container) throw new UserError("copying between containers is not supported");
  if (!s.container && !d.container) throw new UserError("must specify at least one container source");
  engine.images.sweep(); // scratch left by a killed cp (or anything else) goes first
  const copy: CopyOptions = { keepOwner: o.archive, owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, xattrs: true };
  // Docker's CLI asks for the path first: a missing container reads as a missing path.
  const find = (ref: string, path: string) => {
    try {
      return engine.containers.find(ref);
    } catch (e) {
      if (e instanceof UserError && /^No such container: /.test(e.message)) throw new UserError(`No such container:path: ${ref}:${path}`);
      throw e;
    }
  };
  if (s.container) {
    const st = find(s.container, s.path);
    if (d.path === "-") {
      const { checkStdoutNotTerminal } = await import("../image/archive.ts");
      checkStdoutNotTerminal("write a tar stream");
      return fromContainerToStdout(engine, st, s.container, s.path, o);
    }
    const dst = resolvePath(d.path);
    await withContainerRoot(engine, st, (rootFd) => {
      const src = openSource(containerSide(rootFd, s.container!), s.path, o.followLink);
      try {
        copyInto(src, hostSide, dst + (d.path.endsWith("/") ? "/" : ""), copy);
      } finally {
        closeSource(src);
      }
    });
    return;
  }
  const st = find(d.container!, d.path);
  if (s.path === "-") return fromStdinToContainer(engine, st, d.container!, d.path, o);
  const srcPath = resolvePath(s.path) + (/(^|\/)\.$/.test(s.path) ? "/." : s.path.endsWith("/") ? "/" : "");
  const src = openSource(hostSide, srcPath, o.followLink);
  try {
    await withContainerRoot(engine, st, (rootFd) => {
      copyInto(src, containerSide(rootFd, d.container!), d.path, { ...copy, owner: { uid: 0, gid: 0 } });
    });
  } finally {
    closeSource(src);
  }
}

/** `cp CONTAINER:PATH -`: a tar of the entry (or of a directory's content for `PATH/.`) on stdout. */
async function fromContainerToStdout(engine: Engine, st: ContainerState, ref: string, path: string, o: CpOptions): Promise<void> {
  const stage = engine.images.scratch("cp-out");
  const tar = `${stage}.tar`;
  mkdirSync(stage, { mode: 0o700 });
  let contentsOnly = false;
  try {
    await withContainerRoot(engine, st, (rootFd) => {
      const src = openSource(containerSide(rootFd, ref), path, o.followLink);
      contentsOnly = src.contentsOnly;
      const copier = new TreeCopier({ keepOwner: true, xattrs: true });
      const stageFd = libc.openat(libc.AT_FDCWD, stage, libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC);
      try {
        if (src.contentsOnly) {
          const dir = src.entry.openDir();
          try {
            copier.copyChildren(dir, stageFd);
          } finally {
            dir.close();
          }
          // the stage stands for the directory: its "./" entry carries the directory's owner and mode
          libc.fchown(stageFd, src.entry.st.uid, src.entry.st.gid);
          libc.fchmod(stageFd, src.entry.st.mode & 0o7777);
        } else copier.copyEntry(src.entry, stageFd, latin1(src.name));
      } finally {
        libc.close(stageFd);
        copier.close();
        closeSource(src);
      }
    });
    const { writeLayerTar } = await import("../image/layer-write.ts");
    await writeLayerTar(stage, tar, { overlayWhiteouts: false, dotRoot: contentsOnly });
    const { copyToStdout } = await import("../image/export.ts");
    copyToStdout(tar);
  } finally {
    removeTree(stage);
    removeTree(tar);
  }
}

/** `cp - CONTAINER:DIR`: a tar from stdin, unpacked (hostile entries refused) into an existing directory. */
async function fromStdinToContainer(engine: Engine, st: ContainerState, ref: string, path: string, o: CpOptions): Promise<void> {
  const stage = engine.images.scratch("cp-in");
  try {
    const { applyLayer } = await import("../image/layer-apply.ts");
    await applyLayer(Bun.stdin.stream(), stage);
    await withContainerRoot(engine, st, (rootFd) => {
      const side = containerSide(rootFd, ref);
      let dirFd: number;
      try {
        dirFd = side.openDir(path);
      } catch (e) {
        if (e instanceof libc.SyscallError && e.code === "ENOTDIR") throw new UserError(`destination "${ref}:${path}" must be a directory`);
        if (isMissing(e)) throw side.notFound(path);
        throw e;
      }
      const src = TreeDir.open(stage);
      const copier = new TreeCopier({ keepOwner: true, owner: { uid: 0, gid: 0 }, xattrs: true });
      try {
        copier.copyChildren(src, dirFd);
      } finally {
        copier.close();
        src.close();
        libc.close(dirFd);
      }
    });
  } finally {
    removeTree(stage);
  }
}
