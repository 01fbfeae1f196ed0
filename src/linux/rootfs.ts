// Builds the container's filesystem view inside a fresh mount namespace and pivots into it.
// Runs in init on the JS thread only: every call here is synchronous, because Bun's async fs
// work runs on pool threads that are still in the host's mount namespace.
import { parseTmpfsOptions } from "./tmpfs-options.ts";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import type { InitSpec, MountSpec } from "../container/spec.ts";
import {
  mount, umount2, pivotRoot, chdir, chmod, mknodat, symlinkat, fchownat, openat, close, makedev,
  MS_BIND, MS_REC, MS_PRIVATE, MS_RDONLY, MS_REMOUNT, MS_NOSUID, MS_NODEV, MS_NOEXEC,
  MNT_DETACH, S_IFCHR, O_PATH, O_DIRECTORY, O_CLOEXEC, AT_FDCWD, SyscallError,
} from "./libc.ts";
import { openInRoot, mkdirAllInRoot, ensureFileInRoot, fdPath } from "./safepath.ts";

const DEVICES: [name: string, major: number, minor: number][] = [
  ["null", 1, 3],
  ["zero", 1, 5],
  ["full", 1, 7],
  ["random", 1, 8],
  ["urandom", 1, 9],
  ["tty", 5, 0],
];

export function setupRootfs(spec: InitSpec): void {
  // Nothing we mount may propagate back to the host, and nothing of the host's may follow us.
  mount(null, "/", null, MS_REC | MS_PRIVATE);
  mountRoot(spec);
  const root = spec.rootfs.target;
  const rootFd = openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    mountProc(rootFd);
    mountDev(rootFd);
    mountSys(rootFd, spec.privileged ?? false);
    if (spec.cgroupProcs?.length) mountCgroups(rootFd, spec.cgroupVersion ?? "v1", spec.privileged ?? false);
    for (const f of spec.etcFiles) bindInto(rootFd, { source: f.source, destination: f.destination, readOnly: false, type: "bind" }, true);
    for (const m of spec.mounts) {
      if (m.type === "tmpfs") tmpfsInto(rootFd, m);
      else bindInto(rootFd, m, false);
    }
    maskPaths(rootFd, spec.maskedPaths ?? []);
    for (const p of spec.readonlyPaths ?? []) readonlyPath(rootFd, p);
  } finally {
    close(rootFd);
  }
  chdir(root);
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no path
  // to the host tree (and no directory to clean up).
  pivotRoot(".", ".");
  umount2(".", MNT_DETACH);
  chdir("/");
  if (spec.readonlyRootfs) mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC);
}

/**
 * The container's own cgroups at /sys/fs/cgroup, read-only unless privileged. Init has already
 * entered a cgroup namespace rooted at the container's cgroup, so these mounts show only it.
 * On v1/hybrid hosts each hierarchy gets its directory in a tmpfs, as Docker lays them out.
 */
function mountCgroups(rootFd: number, version: "v1" | "v2", writable: boolean): void {
  const flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (writable ? 0 : MS_RDONLY);
  const lines = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n").map((l) => l.split(":"));
  const fd = mkdirAllInRoot(rootFd, "/sys/fs/cgroup");
  try {
    if (version === "v2") {
      mount("cgroup2", fdPath(fd), "cgroup2", flags);
      return;
    }
    mount("tmpfs", fdPath(fd), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
  } finally {
    close(fd);
  }
  const dirFd = openInRoot(rootFd, "/sys/fs/cgroup", O_DIRECTORY);
  try {
    for (const [id, controllers] of lines) {
      if (id === "0") {
        if (controllers) continue;
        mkdirSync(`${fdPath(dirFd)}/unified`);
        const t = openInRoot(rootFd, "/sys/fs/cgroup/unified", O_PATH);
        mount("cgroup2", fdPath(t), "cgroup2", flags);
        close(t);
        continue;
      }
      if (!controllers) continue;
      const named = controllers.startsWith("name=");
      const dir = named ? controllers.slice(5) : controllers;
      mkdirSync(`${fdPath(dirFd)}/${dir}`);
      const t = openInRoot(rootFd, `/sys/fs/cgroup/${dir}`, O_PATH);
      mount("cgroup", fdPath(t), "cgroup", flags, named ? `none,${controllers}` : controllers);
      close(t);
      // "cpu,cpuacct" is also reachable as cpu and cpuacct, as on the host.
      if (!named && dir.includes(",")) for (const c of dir.split(",")) symlinkat(dir, dirFd, c);
    }
  } finally {
    close(dirFd);
  }
  if (!writable) remountReadOnly(rootFd, "/sys/fs/cgroup");
}

/**
 * Hide kernel files behind the container's /dev/null (files) or an empty read-only tmpfs
 * (directories). The /dev/null used is checked to be the real character device 1:3, so a
 * planted file can never stand in for it.
 */
function maskPaths(rootFd: number, paths: string[]): void {
  if (!paths.length) return;
  const nullFd = openInRoot(rootFd, "/dev/null", O_PATH);
  try {
    const st = statSync(fdPath(nullFd));
    if (!st.isCharacterDevice() || st.rdev !== makedev(1, 3)) {
      throw new Error("refusing to mask paths: /dev/null in the container is not the null device");
    }
    for (const p of paths) {
      let fd: number;
      try {
        fd = openInRoot(rootFd, p, O_PATH);
      } catch (e) {
        if (e instanceof SyscallError && e.code === "ENOENT") continue;
        throw e;
      }
      try {
        if (statSync(fdPath(fd)).isDirectory()) {
          mount("tmpfs", fdPath(fd), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
        } else {
          mount(fdPath(nullFd), fdPath(fd), null, MS_BIND);
        }
      } finally {
        close(fd);
      }
    }
  } finally {
    close(nullFd);
  }
}

/** Bind a path onto itself and make that mount read-only. */
function readonlyPath(rootFd: number, path: string): void {
  let fd: number;
  try {
    fd = openInRoot(rootFd, path, O_PATH);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENOENT") return;
    throw e;
  }
  try {
    mount(fdPath(fd), fdPath(fd), null, MS_BIND | MS_REC);
  } finally {
    close(fd);
  }
  remountReadOnly(rootFd, path);
}

function mountRoot(spec: InitSpec): void {
  const r = spec.rootfs;
  if (r.cwd) chdir(r.cwd);
  if (r.driver === "vfs") {
    mount(r.source, r.target, null, MS_BIND | MS_REC);
  } else {
    mount(r.source, r.target, r.fstype, 0, r.data);
  }
  chdir("/");
}

function mountProc(rootFd: number): void {
  const fd = mkdirAllInRoot(rootFd, "/proc");
  try {
    mount("proc", fdPath(fd), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  } finally {
    close(fd);
  }
}

function mountSys(rootFd: number, writable: boolean): void {
  const fd = mkdirAllInRoot(rootFd, "/sys");
  try {
    mount("sysfs", fdPath(fd), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | (writable ? 0 : MS_RDONLY));
  } finally {
    close(fd);
  }
}

function mountDev(rootFd: number): void {
  const fd = mkdirAllInRoot(rootFd, "/dev");
  try {
    mount("tmpfs", fdPath(fd), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
  } finally {
    close(fd);
  }
  // Re-open: the fd above points under the tmpfs we just mounted over.
  const dev = openInRoot(rootFd, "/dev", O_PATH | O_DIRECTORY);
  const devDirFd = openat(dev, ".", O_DIRECTORY | O_CLOEXEC);
  close(dev);
  try {
    for (const [name, major, minor] of DEVICES) {
      mknodat(devDirFd, name, S_IFCHR | 0o666, makedev(major, minor));
      // mknod applies the umask; the nodes must be world read-writable as on any Linux.
      chmod(`${fdPath(devDirFd)}/${name}`, 0o666);
    }
    for (const d of ["pts", "shm", "mqueue"]) mkdirSync(`${fdPath(devDirFd)}/${d}`, { mode: 0o755 });
    const pts = openInRoot(rootFd, "/dev/pts", O_PATH | O_DIRECTORY);
    mount("devpts", fdPath(pts), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    close(pts);
    const shm = openInRoot(rootFd, "/dev/shm", O_PATH | O_DIRECTORY);
    mount("shm", fdPath(shm), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    close(shm);
    const mq = openInRoot(rootFd, "/dev/mqueue", O_PATH | O_DIRECTORY);
    try {
      mount("mqueue", fdPath(mq), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    } catch {
      // mqueue is optional: kernels without CONFIG_POSIX_MQUEUE still run containers.
    } finally {
      close(mq);
    }
    symlinkat("pts/ptmx", devDirFd, "ptmx");
    symlinkat("/proc/self/fd", devDirFd, "fd");
    symlinkat("/proc/self/fd/0", devDirFd, "stdin");
    symlinkat("/proc/self/fd/1", devDirFd, "stdout");
    symlinkat("/proc/self/fd/2", devDirFd, "stderr");
    symlinkat("/proc/kcore", devDirFd, "core");
    // tty group ownership for devpts consumers that expect it
    fchownat(devDirFd, "tty", 0, 5, 0);
  } finally {
    close(devDirFd);
  }
}

/** Bind a host path onto a path resolved inside the root. */
function bindInto(rootFd: number, m: MountSpec, optional: boolean): void {
  let isDir: boolean;
  try {
    isDir = statSync(m.source).isDirectory();
  } catch (e) {
    if (optional) return;
    throw e;
  }
  let fd: number;
  try {
    fd = isDir ? mkdirAllInRoot(rootFd, m.destination) : ensureFileInRoot(rootFd, m.destination);
  } catch (e) {
    if (optional) return; // e.g. an image without /etc gets no /etc/hosts
    if (e instanceof SyscallError && (e.code === "ENOTDIR" || e.code === "EEXIST")) {
      throw new Error(`cannot mount ${isDir ? "directory" : "file"} ${m.source} onto ${m.destination}: not a ${isDir ? "directory" : "file"} in the container`);
    }
    throw e;
  }
  try {
    mount(m.source, fdPath(fd), null, MS_BIND | MS_REC);
  } finally {
    close(fd);
  }
  if (m.readOnly) remountReadOnly(rootFd, m.destination);
}

function remountReadOnly(rootFd: number, destination: string): void {
  // Re-resolve: the path now leads to the root of the new mount, which is what we remount.
  const fd = openInRoot(rootFd, destination, O_PATH);
  try {
    mount(null, fdPath(fd), null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC);
  } finally {
    close(fd);
  }
}

function tmpfsInto(rootFd: number, m: MountSpec): void {
  const fd = mkdirAllInRoot(rootFd, m.destination);
  try {
    // Flag words (exec, ro, noatime...) are mount flags, the rest tmpfs data (tmpfs-options.ts).
    const { flags, data } = parseTmpfsOptions(m.options ?? "mode=1777");
    mount("tmpfs", fdPath(fd), "tmpfs", flags | (m.readOnly ? MS_RDONLY : 0), data);
  } finally {
    close(fd);
  }
}
