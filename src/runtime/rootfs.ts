// A container's filesystem from its runtime-spec config: minid's one mount plan. The
// runtime's init builds a bundle's container with it (`minid-runtime create --bundle`), and
// minid's own init builds every `minid run` container with it too, from the config
// spec/oci-config.ts makes of the image and the flags: one seam under both, as Docker's
// engine hands its containers to runc. Every call goes through the syscall seam, so the plan
// is pinned call by call without root (test/unit/rootfs-plan.test.ts).
//
// Two steps, because the runtime's init stops between them (its prestart/createRuntime hooks
// run while the mounts are made but the root is not yet entered).
import { AT_FDCWD, O_PATH, O_DIRECTORY, O_CLOEXEC, MS_BIND, MS_REC, MS_REMOUNT, MS_RDONLY, MS_MOVE, MNT_DETACH, SyscallError, chroot, realSyscalls } from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";
import { maskPaths, readonlyPath, mountRoot } from "../linux/rootfs.ts";
import type { InitSpec, MountSpec } from "../spec/init-spec.ts";
import type { Config } from "./config.ts";
import { RuntimeError } from "./errors.ts";
import { PROPAGATION } from "./config.ts";
import { mountOne, createDevices, devSymlinks, isBindMount, lockedFlags } from "./mounts.ts";

export interface RootfsOptions {
  /** No /dev/core link (minid's own containers keep Docker's /dev, test/integration/security.test.ts). */
  noCoreLink?: boolean;
  /**
   * The caller has made its mount namespace private (or slave) and mounted the root itself
   * (minid's init: linux/rootfs.ts mountImageRoot), so neither step is repeated here.
   */
  rootMounted?: boolean;
  /** Destinations whose mount is skipped when it cannot be made (minid's /etc files, mqueue; mounts.ts mountOne). */
  optional?: ReadonlySet<string>;
  /** In a user namespace: the container's cgroup directories on the host, bound for a cgroup mount. */
  cgroupDirs?: string[];
  /** Idmapped mounts: the index of the mount in config.json → the detached tree (fd) create made of its source. */
  trees?: ReadonlyMap<number, number>;
}

/**
 * Before the pivot: nothing of ours propagates to the host; the root becomes a mount of its
 * own (pivot_root needs one); config.json's mounts in order, the devices, /dev's links.
 * Returns an O_PATH fd of the root, which `enterRootfs` closes.
 */
export function mountRootfs(c: Config, rootfs: string, bundle: string, sys: Syscalls = realSyscalls, o: RootfsOptions = {}): number {
  if (!o.rootMounted) {
    const prop = c.linux?.rootfsPropagation;
    const shared = prop === "shared" || prop === "rshared";
    // Slave (private if asked) while building: the requested propagation is set on the new
    // root once entered, as an unbindable or shared parent would make the bind below fail or
    // leak. Shared if asked, as runc does, so that the host's shared mounts bound in (an
    // rshared volume) stay peers of the host's and mounts made in them reach the host; then
    // only the mount holding the rootfs is made private, so the rootfs's own mounts do not.
    sys.mount(null, "/", null, shared ? PROPAGATION[prop]! : prop === "private" || prop === "rprivate" ? PROPAGATION.rprivate! : PROPAGATION.rslave!, null);
    if (shared) sys.mount(null, mountPointOf(rootfs, sys), null, PROPAGATION.private!, null);
    sys.mount(rootfs, rootfs, null, MS_BIND | MS_REC, null);
  }
  const rootFd = sys.openat(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  // The nodes go into the config's fresh /dev as soon as it is mounted, before anything else
  // can be mounted over a part of it: a node made later could land in a host directory bound
  // under /dev (-v /dev/snd:/dev/snd with --device /dev/snd/...). A /dev bound from elsewhere
  // gets none, as under runc.
  const isDev = (m: { destination: string }) => m.destination.replace(/\/+$/, "") === "/dev";
  const devBound = (c.mounts ?? []).some((m) => isDev(m) && isBindMount(m));
  let devReady = devBound;
  const makeDev = (fresh: boolean) => {
    createDevices(rootFd, c.linux?.devices, sys, fresh, Boolean(c.linux?.namespaces?.some((n) => n.type === "user")));
    devSymlinks(rootFd, sys, !o.noCoreLink);
    devReady = true;
  };
  try {
    for (const [i, m] of (c.mounts ?? []).entries()) {
      mountOne(rootFd, m, bundle, sys, o.optional?.has(m.destination) ?? false, o.cgroupDirs, o.trees?.get(i));
      if (!devReady && isDev(m)) makeDev(true);
    }
    if (!devReady) makeDev(false);
  } catch (e) {
    sys.close(rootFd);
    throw e;
  }
  return rootFd;
}

/**
 * The mount point of the mount that holds directory `path` (the longest one above it in
 * mountinfo), matched by the path the kernel gives the directory: mountinfo names mount
 * points with every symlink resolved, and a bundle under /var/run (→ /run) must not fall
 * back to "/" and leave the real parent shared.
 */
function mountPointOf(path: string, sys: Syscalls): string {
  const fd = sys.openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  let real: string;
  try {
    real = sys.readlink(`/proc/self/fd/${fd}`);
  } finally {
    sys.close(fd);
  }
  let info: string;
  try {
    info = sys.readFile("/proc/self/mountinfo");
  } catch (e) {
    throw new RuntimeError(`rootfsPropagation shared: cannot read /proc/self/mountinfo: ${(e as SyscallError).code ?? e}`);
  }
  path = real;
  let best = "/";
  for (const line of info.split("\n")) {
    const mp = line.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    if (mp && (path === mp || path.startsWith(mp === "/" ? "/" : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

/**
 * Into the new root: pivot_root(".", ".") stacks the old root under the new one and detaching
 * it leaves no path to the host tree (--no-pivot: a move and chroot, as runc's). Then what the
 * spec does inside: the root's propagation, masked and read-only paths, a read-only root.
 */
export function enterRootfs(c: Config, rootfs: string, rootFd: number, noPivot = false, sys: Syscalls = realSyscalls): void {
  sys.close(rootFd);
  sys.chdir(rootfs);
  if (noPivot) {
    sys.mount(rootfs, "/", null, MS_MOVE, null);
    chroot(".");
  } else {
    sys.pivotRoot(".", ".");
    sys.umount2(".", MNT_DETACH);
  }
  sys.chdir("/");
  const prop = c.linux?.rootfsPropagation;
  if (prop) sys.mount(null, "/", null, PROPAGATION[prop]!, null);
  const root = sys.openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    maskPaths(sys, root, c.linux?.maskedPaths ?? []);
    for (const p of c.linux?.readonlyPaths ?? []) readonlyPath(sys, root, p);
  } finally {
    sys.close(root);
  }
  if (c.root?.readonly) {
    const flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC;
    try {
      sys.mount(null, "/", null, flags, null);
    } catch (e) {
      // In a user namespace the root's flags from the host are locked and must be kept.
      if (!(e instanceof SyscallError) || e.code !== "EPERM") throw e;
      sys.mount(null, "/", null, flags | lockedFlags("/"), null);
    }
  }
}

/**
 * A container's root with its bind mounts (volumes included) at `rootfs.target`, for host-side
 * work on a container that is not running (`cp`), through the same mount code as its start.
 * The caller has made its mount namespace private (the mounts are seen by nobody else) and
 * detaches `target` afterwards.
 */
export function mountContainerView(rootfs: InitSpec["rootfs"], mounts: MountSpec[], sys: Syscalls = realSyscalls): void {
  mountRoot(sys, rootfs);
  const rootFd = sys.openat(AT_FDCWD, rootfs.target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    for (const m of mounts) {
      if (m.type === "bind") mountOne(rootFd, { destination: m.destination, type: "bind", source: m.source, options: ["rbind", ...(m.readOnly ? ["ro"] : [])] }, "/", sys);
    }
  } finally {
    sys.close(rootFd);
  }
}
