// Mounts a container's image root inside init's fresh mount namespace, and the helpers every
// container's view shares: masked and read-only paths (the runtime-spec plan, runtime/rootfs.ts,
// uses them) and cp's view of a stopped container. Runs on the JS thread only: every call here
// is synchronous, because Bun's async fs work runs on pool threads that are still in the host's
// mount namespace. Every call goes through the syscall seam `sys` (realSyscalls in production),
// so the plan can be checked call by call without root (test/unit/rootfs-plan.test.ts).
import type { InitSpec, MountSpec } from "../spec/init-spec.ts";
import {
  makedev, MS_BIND, MS_REC, MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_RDONLY, MS_REMOUNT, MS_NOSUID, MS_NODEV, MS_NOEXEC,
  O_PATH, O_DIRECTORY, O_CLOEXEC, AT_FDCWD, SyscallError, realSyscalls,
} from "./libc.ts";
import { openInRoot, mkdirAllInRoot, ensureFileInRoot, fdPath } from "./safepath.ts";
import type { Syscalls } from "./syscalls.ts";

/**
 * The image's root at its target, in init's new mount namespace: first nothing we mount may
 * propagate back to the host, and nothing of the host's may follow us; unless a bind asks for
 * slave or shared propagation: then the copy of the host's tree is made a slave (as Docker's
 * rootfs propagation then is), which still sends nothing back. The rest of the container's
 * filesystem is built from its runtime-spec config (runtime/rootfs.ts).
 */
export function mountImageRoot(spec: InitSpec, sys: Syscalls = realSyscalls): void {
  const receive = spec.mounts.some((m) => m.propagation && !/private$/.test(m.propagation));
  sys.mount(null, "/", null, MS_REC | (receive ? MS_SLAVE : MS_PRIVATE));
  mountRoot(sys, spec);
}

/**
 * Hide kernel files behind the container's /dev/null (files) or an empty read-only tmpfs
 * (directories). The /dev/null used is checked to be the real character device 1:3, so a
 * planted file can never stand in for it.
 */
export function maskPaths(sys: Syscalls, rootFd: number, paths: string[]): void {
  if (!paths.length) return;
  const nullFd = openInRoot(sys, rootFd, "/dev/null", O_PATH);
  try {
    const st = sys.stat(fdPath(nullFd));
    if (st.kind !== "char" || st.rdev !== makedev(1, 3)) {
      throw new Error("refusing to mask paths: /dev/null in the container is not the null device");
    }
    for (const p of paths) {
      let fd: number;
      try {
        fd = openInRoot(sys, rootFd, p, O_PATH);
      } catch (e) {
        if (e instanceof SyscallError && e.code === "ENOENT") continue;
        throw e;
      }
      try {
        if (sys.stat(fdPath(fd)).kind === "dir") {
          mountAt(sys, "tmpfs", fd, p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
        } else {
          mountAt(sys, fdPath(nullFd), fd, p, null, MS_BIND);
        }
      } finally {
        sys.close(fd);
      }
    }
  } finally {
    sys.close(nullFd);
  }
}

/** Bind a path onto itself and make that mount read-only. */
export function readonlyPath(sys: Syscalls, rootFd: number, path: string): void {
  let fd: number;
  try {
    fd = openInRoot(sys, rootFd, path, O_PATH);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENOENT") return;
    throw e;
  }
  try {
    mountAt(sys, fdPath(fd), fd, path, null, MS_BIND | MS_REC);
  } finally {
    sys.close(fd);
  }
  // proc's own nosuid,nodev,noexec kept on the read-only bind, as runc keeps them.
  remountReadOnly(sys, rootFd, path, MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

function mountRoot(sys: Syscalls, spec: InitSpec): void {
  const r = spec.rootfs;
  if (r.cwd) sys.chdir(r.cwd);
  if (r.driver === "vfs") {
    sys.mount(r.source, r.target, null, MS_BIND | MS_REC);
  } else {
    sys.mount(r.source, r.target, r.fstype, 0, r.data);
  }
  sys.chdir("/");
}

/** Bind a host path onto a path resolved inside the root. */
function bindInto(sys: Syscalls, rootFd: number, m: MountSpec, optional: boolean): void {
  let isDir: boolean;
  try {
    isDir = sys.stat(m.source).kind === "dir";
  } catch (e) {
    if (optional) return;
    throw e;
  }
  let fd: number;
  try {
    fd = isDir ? mkdirAllInRoot(sys, rootFd, m.destination) : ensureFileInRoot(sys, rootFd, m.destination);
  } catch (e) {
    if (optional) return; // e.g. an image without /etc gets no /etc/hosts
    if (e instanceof SyscallError && (e.code === "ENOTDIR" || e.code === "EEXIST")) {
      throw new Error(`cannot mount ${isDir ? "directory" : "file"} ${m.source} onto ${m.destination}: not a ${isDir ? "directory" : "file"} in the container`);
    }
    throw e;
  }
  try {
    mountAt(sys, m.source, fd, m.destination, null, MS_BIND | MS_REC);
  } finally {
    sys.close(fd);
  }
  if (m.readOnly) remountReadOnly(sys, rootFd, m.destination);
  if (m.propagation && m.propagation !== "rprivate") setPropagation(sys, rootFd, m.destination, m.propagation);
}

const PROPAGATION_FLAGS: Record<string, number> = {
  private: MS_PRIVATE, rprivate: MS_PRIVATE | MS_REC, shared: MS_SHARED, rshared: MS_SHARED | MS_REC, slave: MS_SLAVE, rslave: MS_SLAVE | MS_REC,
};

function setPropagation(sys: Syscalls, rootFd: number, destination: string, p: string): void {
  const fd = openInRoot(sys, rootFd, destination, O_PATH);
  try {
    mountAt(sys, null, fd, destination, null, PROPAGATION_FLAGS[p]!);
  } finally {
    sys.close(fd);
  }
}

function remountReadOnly(sys: Syscalls, rootFd: number, destination: string, keep = 0): void {
  // Re-resolve: the path now leads to the root of the new mount, which is what we remount.
  const fd = openInRoot(sys, rootFd, destination, O_PATH);
  try {
    mountAt(sys, null, fd, destination, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | keep);
  } finally {
    sys.close(fd);
  }
}

/**
 * mount(2) onto the path an fd (opened inside the root) names. A failure names the path in the
 * container, not /proc/self/fd/N, so the user can tell which mount it was.
 */
function mountAt(
  sys: Syscalls, source: string | null, fd: number, destination: string, fstype: string | null, flags: number,
  data: string | null = null,
): void {
  try {
    sys.mount(source, fdPath(fd), fstype, flags, data);
  } catch (e) {
    if (e instanceof SyscallError) throw new SyscallError(e.syscall, e.errno, destination);
    throw e;
  }
}

/**
 * A container's root with its bind mounts (volumes included) at `rootfs.target`, for host-side
 * work on a container that is not running (`cp`). The caller has made its mount namespace
 * private (the mounts are seen by nobody else) and detaches `target` afterwards.
 */
export function mountContainerView(rootfs: InitSpec["rootfs"], mounts: MountSpec[], sys: Syscalls = realSyscalls): void {
  mountRoot(sys, { rootfs } as InitSpec);
  const rootFd = sys.openat(AT_FDCWD, rootfs.target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    for (const m of mounts) if (m.type === "bind") bindInto(sys, rootFd, { ...m, propagation: undefined }, false);
  } finally {
    sys.close(rootFd);
  }
}
