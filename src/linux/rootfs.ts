// Mounts a container's image root inside init's fresh mount namespace, and the helpers every
// container's view shares: masked and read-only paths (the runtime-spec plan, runtime/rootfs.ts,
// uses them). Runs on the JS thread only: every call here
// is synchronous, because Bun's async fs work runs on pool threads that are still in the host's
// mount namespace. Every call goes through the syscall seam `sys` (realSyscalls in production),
// so the plan can be checked call by call without root (test/unit/rootfs-plan.test.ts).
import type { InitSpec } from "../spec/init-spec.ts";
import {
  makedev, MS_BIND, MS_REC, MS_PRIVATE, MS_SLAVE, MS_RDONLY, MS_REMOUNT, MS_NOSUID, MS_NODEV, MS_NOEXEC,
  O_PATH, SyscallError, realSyscalls,
} from "./libc.ts";
import { openInRoot, fdPath } from "./safepath.ts";
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
  mountRoot(sys, spec.rootfs);
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

/** The storage driver's root (overlay, or vfs's bind) at its target. */
export function mountRoot(sys: Syscalls, r: InitSpec["rootfs"]): void {
  if (r.cwd) sys.chdir(r.cwd);
  if (r.driver === "vfs") {
    sys.mount(r.source, r.target, null, MS_BIND | MS_REC);
  } else {
    sys.mount(r.source, r.target, r.fstype, 0, r.data);
  }
  sys.chdir("/");
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
