// config.json's mounts, devices, masked and read-only paths, performed by the runtime's init
// inside the container's mount namespace, before (mounts, devices) and after (masks, ro
// paths) pivot_root. Every destination is resolved inside the root (RESOLVE_IN_ROOT, see
// linux/safepath.ts), so a symlink in the image never leads a mount onto the host.
import { ptr } from "bun:ffi";
import {
  MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOSYMFOLLOW,
  MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
  SyscallError, O_PATH, O_DIRECTORY, O_CLOEXEC, O_CREAT, O_WRONLY, O_NOFOLLOW, S_IFCHR, S_IFBLK, S_IFIFO, makedev, realSyscalls, syscallChecked, AT_FDCWD,
} from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";
import { openInRoot, mkdirAllInRoot, ensureFileInRoot, fdPath } from "../linux/safepath.ts";
import type { Device, Mount } from "./config.ts";
import { PROPAGATION } from "./config.ts";
import { RuntimeError } from "./errors.ts";
import { isAbsolute, resolve } from "node:path";

const MS_BIND = 4096, MS_REC = 16384, MS_REMOUNT = 32, MS_RDONLY = 1;

/** [bits to clear, bits to set] for each mount(8) flag word the runtime-spec allows. */
const FLAGS: Record<string, [clear: boolean, bits: number]> = {
  ro: [false, 1], rw: [true, 1], nosuid: [false, 2], suid: [true, 2], nodev: [false, 4], dev: [true, 4],
  noexec: [false, 8], exec: [true, 8], sync: [false, 16], async: [true, 16], remount: [false, 32],
  mand: [false, 64], nomand: [true, 64], dirsync: [false, 128], nosymfollow: [false, 256],
  noatime: [false, 1024], atime: [true, 1024], nodiratime: [false, 2048], diratime: [true, 2048],
  bind: [false, MS_BIND], rbind: [false, MS_BIND | MS_REC], silent: [false, 32768], loud: [true, 32768],
  relatime: [false, 1 << 21], norelatime: [true, 1 << 21], strictatime: [false, 1 << 24], nostrictatime: [true, 1 << 24],
  lazytime: [false, 1 << 25], nolazytime: [true, 1 << 25],
};

/** The recursive flag words (mount_setattr(2) with AT_RECURSIVE): [clear?, MOUNT_ATTR_ bits]. */
const RECURSIVE: Record<string, [clear: boolean, bits: number]> = {
  rro: [false, MOUNT_ATTR_RDONLY], rrw: [true, MOUNT_ATTR_RDONLY], rnosuid: [false, MOUNT_ATTR_NOSUID], rsuid: [true, MOUNT_ATTR_NOSUID],
  rnodev: [false, MOUNT_ATTR_NODEV], rdev: [true, MOUNT_ATTR_NODEV], rnoexec: [false, MOUNT_ATTR_NOEXEC], rexec: [true, MOUNT_ATTR_NOEXEC],
  rnodiratime: [false, MOUNT_ATTR_NODIRATIME], rdiratime: [true, MOUNT_ATTR_NODIRATIME],
  rnosymfollow: [false, MOUNT_ATTR_NOSYMFOLLOW], rsymfollow: [true, MOUNT_ATTR_NOSYMFOLLOW],
};
/** The recursive atime words: each sets the whole atime field (relatime is its 0). */
const RECURSIVE_ATIME: Record<string, number> = {
  rrelatime: 0, ratime: 0, rnostrictatime: 0, rnoatime: MOUNT_ATTR_NOATIME, rstrictatime: MOUNT_ATTR_STRICTATIME, rnorelatime: MOUNT_ATTR_STRICTATIME,
};

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  data: string[];
  /** MOUNT_ATTR_ bits the r* words set and clear on the mount and every mount under it. */
  recursive: { set: number; clr: number };
  /** "idmap" / "ridmap": the bind is idmapped (its submounts too with ridmap). */
  idmap?: "idmap" | "ridmap";
}

export function parseMountOptions(options: string[] = []): ParsedOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  const recursive = { set: 0, clr: 0 };
  let idmap: ParsedOptions["idmap"];
  for (const o of options) {
    const f = FLAGS[o];
    if (f) {
      flags = f[0] ? flags & ~f[1] : flags | f[1];
      continue;
    }
    if (o in PROPAGATION) {
      propagation.push(PROPAGATION[o]!);
      continue;
    }
    const r = RECURSIVE[o];
    if (r) {
      // The last word about a bit wins, as with the plain flags.
      if (r[0]) (recursive.clr |= r[1]), (recursive.set &= ~r[1]);
      else (recursive.set |= r[1]), (recursive.clr &= ~r[1]);
      continue;
    }
    if (o in RECURSIVE_ATIME) {
      // The kernel takes a new atime only with the whole field cleared.
      recursive.set = (recursive.set & ~MOUNT_ATTR__ATIME) | RECURSIVE_ATIME[o]!;
      recursive.clr |= MOUNT_ATTR__ATIME;
      continue;
    }
    if (o === "idmap" || o === "ridmap") {
      idmap = o;
      continue;
    }
    if (o === "tmpcopyup") throw new RuntimeError(`mount option ${JSON.stringify(o)} is not supported by minid`);
    data.push(o);
  }
  return { flags, propagation, data, recursive, ...(idmap ? { idmap } : {}) };
}

/** Whether config.json asks for this mount to be idmapped (mappings of its own, or the idmap/ridmap word). */
export function isIdmapped(m: Mount): boolean {
  return Boolean(m.uidMappings?.length || m.gidMappings?.length || parseMountOptions(m.options).idmap);
}

/** statfs(2) f_flags → the MS_ bits a bind remount must keep (locked flags, see mount(2)). */
export function lockedFlags(path: string): number {
  const buf = new BigUint64Array(15);
  const b = Buffer.from(path + "\0");
  try {
    syscallChecked("statfs", 137, BigInt(ptr(b)), BigInt(ptr(buf)));
  } catch {
    return 0;
  }
  const f = Number(buf[10]!);
  let m = 0;
  if (f & 1) m |= MS_RDONLY;
  if (f & 2) m |= 2;
  if (f & 4) m |= 4;
  if (f & 8) m |= 8;
  if (f & 1024) m |= 1024;
  if (f & 2048) m |= 2048;
  if (f & 4096) m |= 1 << 21;
  return m;
}

function at(fd: number): string {
  return fdPath(fd);
}

function wrap(e: unknown, m: Mount): never {
  if (e instanceof RuntimeError) throw e;
  const msg = e instanceof SyscallError ? `${e.syscall}: ${e.code}` : (e as Error).message;
  throw new RuntimeError(`error mounting ${JSON.stringify(m.source ?? m.type)} to rootfs at ${JSON.stringify(m.destination)}: ${msg}`);
}

/** A bind mount, by its type or by a bind/rbind flag word (the spec allows either). */
export function isBindMount(m: Mount): boolean {
  return m.type === "bind" || (parseMountOptions(m.options).flags & MS_BIND) !== 0;
}

/**
 * One entry of config.json's mounts, onto its destination inside the root. `optional` (minid's
 * own runs only; a runtime-spec mount that fails fails the container): a bind whose source is
 * missing or whose destination cannot be made is skipped (the engine's /etc files, for an
 * image without /etc), and so is a filesystem the kernel refuses (mqueue without
 * CONFIG_POSIX_MQUEUE).
 */
export function mountOne(rootFd: number, m: Mount, bundle: string, sys: Syscalls = realSyscalls, optional = false, cgroupDirs?: string[], tree?: number): void {
  try {
    const o = parseMountOptions(m.options);
    const type = m.type ?? (o.flags & MS_BIND ? "bind" : "");
    if (type === "cgroup") {
      mountCgroup(rootFd, m, o, sys, cgroupDirs);
      return setRecursive(rootFd, m.destination, o, sys);
    }
    if (isBindMount(m)) return bindMount(rootFd, m, o, bundle, sys, optional, tree);
    const fd = mkdirAllInRoot(sys, rootFd, m.destination);
    let sysfsRefused = false;
    try {
      const flags = o.flags & ~(MS_BIND | MS_REC);
      sys.mount(m.source ?? type, at(fd), type || null, flags, o.data.join(",") || null);
    } catch (e) {
      // In a user namespace with a network namespace of the host's, sysfs cannot be mounted
      // (it belongs to the network namespace's owner): the host's /sys is bound, as runc does.
      if (type === "sysfs" && e instanceof SyscallError && e.code === "EPERM") sysfsRefused = true;
      else if (optional) return;
      else throw e;
    } finally {
      sys.close(fd);
    }
    if (sysfsRefused) {
      const options = [...(m.options ?? []), "rbind"];
      return bindMount(rootFd, { ...m, source: "/sys", type: "bind", options }, parseMountOptions(options), bundle, sys, optional);
    }
    setRecursive(rootFd, m.destination, o, sys);
    propagate(rootFd, m.destination, o.propagation, sys);
  } catch (e) {
    wrap(e, m);
  }
}

/**
 * `tree`: the source as a detached tree create made idmapped (idmap.ts), attached here
 * instead of a bind of the path.
 */
function bindMount(rootFd: number, m: Mount, o: ParsedOptions, bundle: string, sys: Syscalls, optional: boolean, tree?: number): void {
  if (!m.source) throw new RuntimeError("a bind mount needs a source");
  const source = isAbsolute(m.source) ? m.source : resolve(bundle, m.source);
  let isDir: boolean;
  try {
    isDir = sys.stat(tree === undefined ? source : at(tree)).kind === "dir";
  } catch (e) {
    if (optional) return;
    throw new RuntimeError(`stat ${source}: ${(e as SyscallError).code ?? e}`);
  }
  let fd: number;
  try {
    fd = isDir ? mkdirAllInRoot(sys, rootFd, m.destination) : ensureFileInRoot(sys, rootFd, m.destination);
  } catch (e) {
    if (optional) return;
    if (e instanceof SyscallError && (e.code === "ENOTDIR" || e.code === "EEXIST")) {
      const what = isDir ? "directory" : "file";
      throw new RuntimeError(`cannot mount ${what} ${source} onto ${m.destination}: not a ${what} in the container`);
    }
    throw e;
  }
  try {
    if (tree !== undefined) sys.moveMount(tree, fd);
    else sys.mount(source, at(fd), null, MS_BIND | (o.flags & MS_REC), null);
  } finally {
    sys.close(fd);
  }
  const extra = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (extra) {
    // Re-resolved: the path now leads to the root of the new mount, which is what is remounted.
    const fd2 = openInRoot(sys, rootFd, m.destination, O_PATH);
    try {
      const flags = MS_BIND | MS_REMOUNT | extra;
      try {
        sys.mount(null, at(fd2), null, flags, null);
      } catch (e) {
        if (!(e instanceof SyscallError) || e.code !== "EPERM") throw e;
        sys.mount(null, at(fd2), null, flags | lockedFlags(source), null);
      }
    } finally {
      sys.close(fd2);
    }
  }
  setRecursive(rootFd, m.destination, o, sys);
  propagate(rootFd, m.destination, o.propagation, sys);
}

/** The r* words: mount_setattr on the destination's mount and every mount under it. */
function setRecursive(rootFd: number, destination: string, o: ParsedOptions, sys: Syscalls): void {
  if (!o.recursive.set && !o.recursive.clr) return;
  // Re-resolved: the path now leads to the root of the new mount.
  const fd = openInRoot(sys, rootFd, destination, O_PATH);
  try {
    sys.mountSetattr(fd, true, o.recursive);
  } finally {
    sys.close(fd);
  }
}

function propagate(rootFd: number, destination: string, flags: number[], sys: Syscalls): void {
  if (!flags.length) return;
  const fd = openInRoot(sys, rootFd, destination, O_PATH);
  try {
    for (const f of flags) sys.mount(null, at(fd), null, f, null);
  } finally {
    sys.close(fd);
  }
}

/**
 * A cgroup mount: cgroup2 on v2 hosts; on v1 a tmpfs with one directory per hierarchy, as
 * runc and Docker lay it out (the hybrid host's unified hierarchy left out). The cgroup
 * namespace (if any) makes each show only the container's group.
 */
function mountCgroup(rootFd: number, m: Mount, o: ParsedOptions, sys: Syscalls, hostDirs?: string[]): void {
  const flags = o.flags & ~(MS_BIND | MS_REC);
  // In a user namespace a v1 hierarchy cannot be mounted (nor cgroup2 without a cgroup
  // namespace of its own): the container's own cgroup directories are bound instead, as runc does.
  const bindDir = (dir: string, dest: string) => {
    const to = openInRoot(sys, rootFd, dest, O_PATH);
    try {
      sys.mount(dir, at(to), null, MS_BIND | MS_REC, null);
    } finally {
      sys.close(to);
    }
    // Re-resolved: the remount is of the new mount's root.
    const root = openInRoot(sys, rootFd, dest, O_PATH);
    try {
      sys.mount(null, at(root), null, MS_BIND | MS_REMOUNT | (flags & MS_RDONLY) | 2 | 4 | 8 | lockedFlags(dir), null);
    } finally {
      sys.close(root);
    }
  };
  const fd = mkdirAllInRoot(sys, rootFd, m.destination);
  try {
    if (exists(sys, "/sys/fs/cgroup/cgroup.controllers")) {
      try {
        sys.mount("cgroup2", at(fd), "cgroup2", flags, null);
      } catch (e) {
        if (!hostDirs?.length || !(e instanceof SyscallError) || e.code !== "EPERM") throw e;
        bindDir(hostDirs[0]!, m.destination);
      }
      return;
    }
    sys.mount("tmpfs", at(fd), "tmpfs", (flags & ~MS_RDONLY) | 2 | 4 | 8, "mode=755");
  } finally {
    sys.close(fd);
  }
  const dir = openInRoot(sys, rootFd, m.destination, O_DIRECTORY);
  try {
    for (const line of sys.readFile("/proc/self/cgroup").trim().split("\n")) {
      const [id, controllers] = line.split(":");
      if (id === "0" || !controllers) continue;
      const named = controllers.startsWith("name=");
      const name = named ? controllers.slice(5) : controllers;
      const hostDir = hostDirs?.find((d) => d.startsWith(`/sys/fs/cgroup/${name}/`));
      if (hostDirs && !hostDir) continue; // a hierarchy the container has no cgroup in
      sys.mkdir(`${at(dir)}/${name}`);
      if (hostDir) bindDir(hostDir, `${m.destination}/${name}`);
      else {
        const t = openInRoot(sys, rootFd, `${m.destination}/${name}`, O_PATH);
        try {
          sys.mount("cgroup", at(t), "cgroup", flags | 2 | 4 | 8, named ? `none,${controllers}` : controllers);
        } finally {
          sys.close(t);
        }
      }
      // "cpu,cpuacct" is also reachable as cpu and cpuacct, as on the host.
      if (!named && name.includes(",")) for (const c of name.split(",")) sys.symlinkat(name, dir, c);
    }
  } finally {
    sys.close(dir);
  }
  if (flags & MS_RDONLY) {
    const t = openInRoot(sys, rootFd, m.destination, O_PATH);
    try {
      sys.mount(null, at(t), null, MS_BIND | MS_REMOUNT | MS_RDONLY | 2 | 4 | 8, null);
    } finally {
      sys.close(t);
    }
  }
}

function exists(sys: Syscalls, p: string): boolean {
  try {
    sys.stat(p);
    return true;
  } catch {
    return false;
  }
}

const DEFAULT_DEVICES: Device[] = [
  { type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666 },
  { type: "c", path: "/dev/zero", major: 1, minor: 5, fileMode: 0o666 },
  { type: "c", path: "/dev/full", major: 1, minor: 7, fileMode: 0o666 },
  { type: "c", path: "/dev/random", major: 1, minor: 8, fileMode: 0o666 },
  { type: "c", path: "/dev/urandom", major: 1, minor: 9, fileMode: 0o666 },
  { type: "c", path: "/dev/tty", major: 5, minor: 0, fileMode: 0o666 },
];

/**
 * The spec's default devices, then linux.devices (which may override a default's path).
 * `freshDev`: /dev is a filesystem the config has just mounted, so nothing is there to replace.
 */
export function createDevices(rootFd: number, devices: Device[] = [], sys: Syscalls = realSyscalls, freshDev = false, bindFromHost = false): void {
  const wanted = new Map<string, Device>();
  for (const d of DEFAULT_DEVICES) wanted.set(d.path, d);
  for (const d of devices) wanted.set(d.path, d);
  for (const d of wanted.values()) {
    if (!d.path.startsWith("/dev/")) throw new RuntimeError(`device path ${JSON.stringify(d.path)} must be under /dev`);
    const kind = d.type === "c" || d.type === "u" ? S_IFCHR : d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : -1;
    if (kind < 0) throw new RuntimeError(`device ${d.path}: unknown type ${JSON.stringify(d.type)}`);
    const slash = d.path.lastIndexOf("/");
    const parent = mkdirAllInRoot(sys, rootFd, d.path.slice(0, slash) || "/");
    const name = d.path.slice(slash + 1);
    let dirFd: number;
    try {
      dirFd = sys.openat(parent, ".", O_DIRECTORY | O_CLOEXEC);
    } finally {
      sys.close(parent);
    }
    try {
      // A node the rootfs brought is replaced; a /dev the config has just mounted is empty.
      if (!freshDev) {
        try {
          sys.unlinkat(dirFd, name, 0);
        } catch {}
      }
      if (bindFromHost && kind !== S_IFIFO) {
        // In a user namespace mknod of a device is refused (no CAP_MKNOD over the host): the
        // host's node is bound instead, with its own mode and owner, as runc does.
        const host = sys.stat(d.path);
        if (host.kind !== (kind === S_IFBLK ? "block" : "char") || (d.major !== undefined && host.rdev !== makedev(d.major, d.minor ?? 0))) {
          throw new RuntimeError(`in a user namespace devices are bound from the host, and the host's ${d.path} is not ${kind === S_IFBLK ? "block" : "character"} device ${d.major}:${d.minor}`);
        }
        const target = sys.openat(dirFd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600);
        try {
          sys.mount(d.path, at(target), null, MS_BIND, null);
        } finally {
          sys.close(target);
        }
        continue;
      }
      const mode = (d.fileMode ?? 0o666) & 0o7777;
      sys.mknodat(dirFd, name, kind | mode, kind === S_IFIFO ? 0 : makedev(d.major ?? 0, d.minor ?? 0));
      sys.chmod(`${at(dirFd)}/${name}`, mode);
      sys.fchownat(dirFd, name, d.uid ?? 0, d.gid ?? 0, 0x100);
    } catch (e) {
      throw new RuntimeError(`cannot create device ${d.path}: ${(e as Error).message}`);
    } finally {
      sys.close(dirFd);
    }
  }
}

/** /dev/fd, stdin, stdout, stderr, core and ptmx, as every Linux /dev has them. */
export function devSymlinks(rootFd: number, sys: Syscalls = realSyscalls, coreLink = true): void {
  const dev = openInRoot(sys, rootFd, "/dev", O_PATH | O_DIRECTORY);
  let dirFd: number;
  try {
    dirFd = sys.openat(dev, ".", O_DIRECTORY | O_CLOEXEC);
  } finally {
    sys.close(dev);
  }
  try {
    const links: [string, string][] = [["/proc/self/fd", "fd"], ["/proc/self/fd/0", "stdin"], ["/proc/self/fd/1", "stdout"], ["/proc/self/fd/2", "stderr"], ["pts/ptmx", "ptmx"]];
    if (coreLink && exists(sys, "/proc/kcore")) links.push(["/proc/kcore", "core"]);
    for (const [target, name] of links) {
      try {
        sys.symlinkat(target, dirFd, name);
      } catch (e) {
        if (!(e instanceof SyscallError) || e.code !== "EEXIST") throw e;
        if (name === "ptmx") {
          // An image's /dev/ptmx node would open the host's devpts: replace it by the link.
          try {
            sys.unlinkat(dirFd, name, 0);
            sys.symlinkat(target, dirFd, name);
          } catch {}
        }
      }
    }
  } finally {
    sys.close(dirFd);
  }
}

export { AT_FDCWD };
