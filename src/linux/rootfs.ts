// Builds the container's filesystem view inside a fresh mount namespace and pivots into it.
// Runs in init on the JS thread only: every call here is synchronous, because Bun's async fs
// work runs on pool threads that are still in the host's mount namespace. Every call goes
// through the syscall seam `sys` (realSyscalls in production), so the mount plan can be
// checked call by call without root (test/unit/rootfs-plan.test.ts).
import type { DeviceSpec, InitSpec, MountSpec } from "../spec/init-spec.ts";
import { parseTmpfsOptions } from "./tmpfs-options.ts";
import {
  makedev, MS_BIND, MS_REC, MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_RDONLY, MS_REMOUNT, MS_NOSUID, MS_NODEV, MS_NOEXEC,
  MNT_DETACH, MS_STRICTATIME, S_IFCHR, S_IFBLK, O_PATH, O_DIRECTORY, O_CLOEXEC, AT_FDCWD, SyscallError, realSyscalls,
} from "./libc.ts";
import { openInRoot, mkdirAllInRoot, ensureFileInRoot, fdPath } from "./safepath.ts";
import type { Syscalls } from "./syscalls.ts";

const DEVICES: [name: string, major: number, minor: number][] = [
  ["null", 1, 3],
  ["zero", 1, 5],
  ["full", 1, 7],
  ["random", 1, 8],
  ["urandom", 1, 9],
  ["tty", 5, 0],
];

export function setupRootfs(spec: InitSpec, sys: Syscalls = realSyscalls): void {
  // Nothing we mount may propagate back to the host, and nothing of the host's may follow us;
  // unless a bind asks for slave or shared propagation: then the copy of the host's tree is
  // made a slave (as Docker's rootfs propagation then is), which still sends nothing back.
  const receive = spec.mounts.some((m) => m.propagation && !/private$/.test(m.propagation));
  sys.mount(null, "/", null, MS_REC | (receive ? MS_SLAVE : MS_PRIVATE));
  mountRoot(sys, spec);
  const root = spec.rootfs.target;
  const rootFd = sys.openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    mountProc(sys, rootFd);
    mountDev(sys, rootFd, spec.runOptions?.shmSize);
    if (spec.runOptions?.devices?.length) addDevices(sys, rootFd, spec.runOptions.devices);
    if (spec.runOptions?.sysctls) writeSysctls(sys, rootFd, spec.runOptions.sysctls);
    mountSys(sys, rootFd, spec.privileged ?? false);
    if (spec.cgroupProcs?.length) mountCgroups(sys, rootFd, spec.cgroupVersion ?? "v1", spec.privileged ?? false);
    for (const f of spec.etcFiles) bindInto(sys, rootFd, { source: f.source, destination: f.destination, readOnly: false, type: "bind" }, true);
    for (const m of spec.mounts) {
      if (m.type === "tmpfs") tmpfsInto(sys, rootFd, m);
      else bindInto(sys, rootFd, m, false);
    }
    // Under a slave root every bind is a slave too: the ones that did not ask for it go private.
    if (receive) {
      for (const m of spec.mounts) {
        if (m.type === "bind" && (!m.propagation || /private$/.test(m.propagation))) setPropagation(sys, rootFd, m.destination, m.propagation ?? "rprivate");
      }
    }
    maskPaths(sys, rootFd, spec.maskedPaths ?? []);
    for (const p of spec.readonlyPaths ?? []) readonlyPath(sys, rootFd, p);
  } finally {
    sys.close(rootFd);
  }
  sys.chdir(root);
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no path
  // to the host tree (and no directory to clean up).
  sys.pivotRoot(".", ".");
  sys.umount2(".", MNT_DETACH);
  sys.chdir("/");
  if (spec.readonlyRootfs) sys.mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC);
}

/**
 * The container's own cgroups at /sys/fs/cgroup, read-only unless privileged. Init has already
 * entered a cgroup namespace rooted at the container's cgroup, so these mounts show only it.
 * On v1/hybrid hosts each hierarchy gets its directory in a tmpfs, as Docker lays them out.
 */
function mountCgroups(sys: Syscalls, rootFd: number, version: "v1" | "v2", writable: boolean): void {
  const flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (writable ? 0 : MS_RDONLY);
  const lines = sys.readFile("/proc/self/cgroup").trim().split("\n").map((l) => l.split(":"));
  const fd = mkdirAllInRoot(sys, rootFd, "/sys/fs/cgroup");
  try {
    if (version === "v2") {
      mountAt(sys, "cgroup2", fd, "/sys/fs/cgroup", "cgroup2", flags);
      return;
    }
    mountAt(sys, "tmpfs", fd, "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
  } finally {
    sys.close(fd);
  }
  const dirFd = openInRoot(sys, rootFd, "/sys/fs/cgroup", O_DIRECTORY);
  try {
    for (const [id, controllers] of lines) {
      // The hybrid host's unified (v2) hierarchy stays out, as under Docker: a v1 container
      // sees exactly its controllers' hierarchies.
      if (id === "0" || !controllers) continue;
      const named = controllers.startsWith("name=");
      const dir = named ? controllers.slice(5) : controllers;
      sys.mkdir(`${fdPath(dirFd)}/${dir}`);
      const t = openInRoot(sys, rootFd, `/sys/fs/cgroup/${dir}`, O_PATH);
      try {
        mountAt(sys, "cgroup", t, `/sys/fs/cgroup/${dir}`, "cgroup", flags, named ? `none,${controllers}` : controllers);
      } finally {
        sys.close(t);
      }
      // "cpu,cpuacct" is also reachable as cpu and cpuacct, as on the host.
      if (!named && dir.includes(",")) for (const c of dir.split(",")) sys.symlinkat(dir, dirFd, c);
    }
  } finally {
    sys.close(dirFd);
  }
  if (!writable) remountReadOnly(sys, rootFd, "/sys/fs/cgroup");
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

function mountProc(sys: Syscalls, rootFd: number): void {
  const fd = mkdirAllInRoot(sys, rootFd, "/proc");
  try {
    mountAt(sys, "proc", fd, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  } finally {
    sys.close(fd);
  }
}

function mountSys(sys: Syscalls, rootFd: number, writable: boolean): void {
  const fd = mkdirAllInRoot(sys, rootFd, "/sys");
  try {
    mountAt(sys, "sysfs", fd, "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | (writable ? 0 : MS_RDONLY));
  } finally {
    sys.close(fd);
  }
}

function mountDev(sys: Syscalls, rootFd: number, shmSize?: number): void {
  const fd = mkdirAllInRoot(sys, rootFd, "/dev");
  try {
    // nosuid and strictatime but not noexec, as Docker's /dev (runc's default mount).
    mountAt(sys, "tmpfs", fd, "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  } finally {
    sys.close(fd);
  }
  // Re-open: the fd above points under the tmpfs we just mounted over.
  const dev = openInRoot(sys, rootFd, "/dev", O_PATH | O_DIRECTORY);
  let devDirFd: number;
  try {
    devDirFd = sys.openat(dev, ".", O_DIRECTORY | O_CLOEXEC);
  } finally {
    sys.close(dev);
  }
  try {
    for (const [name, major, minor] of DEVICES) {
      sys.mknodat(devDirFd, name, S_IFCHR | 0o666, makedev(major, minor));
      // mknod applies the umask; the nodes must be world read-writable as on any Linux.
      sys.chmod(`${fdPath(devDirFd)}/${name}`, 0o666);
    }
    for (const d of ["pts", "shm", "mqueue"]) sys.mkdir(`${fdPath(devDirFd)}/${d}`, 0o755);
    const pts = openInRoot(sys, rootFd, "/dev/pts", O_PATH | O_DIRECTORY);
    try {
      mountAt(sys, "devpts", pts, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    } finally {
      sys.close(pts);
    }
    const shm = openInRoot(sys, rootFd, "/dev/shm", O_PATH | O_DIRECTORY);
    try {
      const size = shmSize ? `${Math.max(1, Math.ceil(shmSize / 1024))}k` : "65536k";
      mountAt(sys, "shm", shm, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${size}`);
    } finally {
      sys.close(shm);
    }
    const mq = openInRoot(sys, rootFd, "/dev/mqueue", O_PATH | O_DIRECTORY);
    try {
      mountAt(sys, "mqueue", mq, "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    } catch {
      // mqueue is optional: kernels without CONFIG_POSIX_MQUEUE still run containers.
    } finally {
      sys.close(mq);
    }
    sys.symlinkat("pts/ptmx", devDirFd, "ptmx");
    sys.symlinkat("/proc/self/fd", devDirFd, "fd");
    sys.symlinkat("/proc/self/fd/0", devDirFd, "stdin");
    sys.symlinkat("/proc/self/fd/1", devDirFd, "stdout");
    sys.symlinkat("/proc/self/fd/2", devDirFd, "stderr");
    // No /dev/core (Docker has none; /proc/kcore is masked anyway), and every node root:root
    // as Docker makes them.
  } finally {
    sys.close(devDirFd);
  }
}

/** --device: a node with the host's type, numbers, mode and owner at its path in the container. */
function addDevices(sys: Syscalls, rootFd: number, devices: DeviceSpec[]): void {
  for (const d of devices) {
    const slash = d.container.lastIndexOf("/");
    const parent = mkdirAllInRoot(sys, rootFd, d.container.slice(0, slash) || "/");
    try {
      const name = d.container.slice(slash + 1);
      sys.mknodat(parent, name, (d.type === "b" ? S_IFBLK : S_IFCHR) | d.mode, makedev(d.major, d.minor));
      sys.chmod(`${fdPath(parent)}/${name}`, d.mode);
      sys.fchownat(parent, name, d.uid, d.gid, 0);
    } catch (e) {
      if (e instanceof SyscallError) throw new SyscallError(e.syscall, e.errno, d.container);
      throw e;
    }
    sys.close(parent);
  }
}

/**
 * --sysctl: written into the container's own /proc/sys before it is made read-only. The
 * namespaced ones only (checked at create): they land in the namespaces init just made.
 */
function writeSysctls(sys: Syscalls, rootFd: number, sysctls: Record<string, string>): void {
  const fd = openInRoot(sys, rootFd, "/proc/sys", O_PATH | O_DIRECTORY);
  try {
    for (const [key, value] of Object.entries(sysctls)) {
      const rel = key.split(".");
      if (rel.some((c) => !/^[A-Za-z0-9_-]+$/.test(c))) throw new Error(`invalid sysctl name ${key}`);
      try {
        sys.writeFile(`${fdPath(fd)}/${rel.join("/")}`, value);
      } catch (e) {
        throw new Error(`cannot set sysctl ${key}=${value}: ${e instanceof SyscallError ? e.code : (e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  } finally {
    sys.close(fd);
  }
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

function tmpfsInto(sys: Syscalls, rootFd: number, m: MountSpec): void {
  const fd = mkdirAllInRoot(sys, rootFd, m.destination);
  try {
    // Flag words (exec, ro, noatime...) are mount flags, the rest tmpfs data (tmpfs-options.ts).
    const { flags, data } = parseTmpfsOptions(m.options || "mode=1777");
    mountAt(sys, "tmpfs", fd, m.destination, "tmpfs", flags | (m.readOnly ? MS_RDONLY : 0), data);
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
