// The first half of a container's start, shared by minid's init (init.ts) and the init that
// hands the container to another OCI runtime (oci-runtime.ts): the cgroup joined, the
// namespaces a container shares with the host or another container joined, its own ones made,
// hostname and loopback set, the namespaced sysctls written. Both then build the same
// container from here, so a flag means the same whichever runtime finishes the job.
import type { InitSpec } from "../spec/init-spec.ts";
import {
  SyscallError, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_FS, OPEN_TREE_CLONE,
  AT_FDCWD, O_CLOEXEC, O_RDONLY, PR_SET_DUMPABLE, realSyscalls,
} from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";
import { UserError } from "../util/errors.ts";
import { cloneConsole } from "./console.ts";

export interface EnterOptions {
  /** A cgroup namespace rooted at the container's cgroup (not for another runtime: it manages its own). */
  cgroupNamespace: boolean;
  /** Take the terminal's mount along (minid's own console; another runtime makes its own). */
  console: boolean;
}

/** Returns the detached trees taken on the way (-1 when none): the console's and a donor's /dev/shm. */
export function enterNamespaces(spec: InitSpec, sys: Syscalls = realSyscalls, o: EnterOptions): { consoleTree: number; shmTree: number } {
  // Nothing in the container may open /proc/<init>/exe (the minid binary) while we run
  // (CVE-2019-5736); execve makes the user's command dumpable again.
  sys.prctl(PR_SET_DUMPABLE, 0);
  // Join the cgroup first so the cgroup namespace created below is rooted at it.
  for (const procs of spec.cgroupProcs ?? []) sys.writeFile(cgroupJoinFile(spec, procs), "0");
  // The terminal's mount must be taken while it is still in our mount namespace (console.ts).
  const consoleTree = o.console ? cloneConsole(sys) : -1;
  // --ipc/--uts host keep the host's; --ipc container:NAME joins that container's.
  const ro = spec.runOptions;
  // ...and its /dev/shm (POSIX shared memory lives there), as Docker shares it: a clone of
  // the donor's mount, attached over our own once the root is built.
  const shmTree = spec.joinNamespaces?.ipc ? cloneDonorShm(sys, spec.joinNamespaces.ipc.replace(/\/ipc$/, "/mnt")) : -1;
  if (spec.joinNamespaces?.ipc) {
    const fd = sys.openat(AT_FDCWD, spec.joinNamespaces.ipc, O_RDONLY | O_CLOEXEC);
    try {
      sys.setns(fd, CLONE_NEWIPC, spec.joinNamespaces.ipc);
    } finally {
      sys.close(fd);
    }
  }
  // The network namespace: a new one (only lo), the host's, or one prepared or owned by another.
  const netns = spec.netns ?? "new";
  if (netns !== "new" && netns !== "host") joinNetns(sys, netns);
  const own = (ro?.uts ? 0 : CLONE_NEWUTS) | (ro?.ipc ? 0 : CLONE_NEWIPC);
  const cgroupNs = o.cgroupNamespace && spec.cgroupProcs?.length ? CLONE_NEWCGROUP : 0;
  sys.unshare(CLONE_NEWNS | own | (netns === "new" ? CLONE_NEWNET : 0) | cgroupNs);
  if (!ro?.uts) sys.sethostname(spec.hostname);
  if (netns === "new") sys.interfaceUp("lo");
  // The network namespace is this thread's now, and so are the /proc/sys/net files it opens.
  for (const [key, value] of Object.entries(spec.sysctls ?? {})) {
    // Never the host's own (Docker refuses them with --network host too).
    if (netns === "host" && key.startsWith("net.")) throw new UserError(`sysctl "${key}" is not allowed in host network namespace`);
    try {
      sys.writeFile(`/proc/sys/${key.replace(/\./g, "/")}`, value);
    } catch (e) {
      // A kernel without this sysctl runs the container without it.
      if (!(e instanceof SyscallError && e.code === "ENOENT") && (e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  // --sysctl: namespaced ones only (checked at create), so they land in the namespaces above;
  // here rather than in config.json, where a runtime would refuse an IPC sysctl for a config
  // that inherits its IPC namespace instead of asking for one.
  for (const [key, value] of Object.entries(ro?.sysctls ?? {})) {
    if (key.split(".").some((c) => !/^[A-Za-z0-9_-]+$/.test(c))) throw new UserError(`invalid sysctl name ${key}`);
    try {
      sys.writeFile(`/proc/sys/${key.replace(/\./g, "/")}`, value);
    } catch (e) {
      throw new UserError(`cannot set sysctl ${key}=${value}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return { consoleTree, shmTree };
}

/**
 * A detached clone of another container's /dev/shm mount. The kernel clones only a mount of
 * the caller's own namespace, so this thread visits the donor's (setns needs the thread's fs
 * unshared first: design.md) and comes straight back before anything else happens.
 */
function cloneDonorShm(sys: Syscalls, donorMnt: string): number {
  const self = "/proc/thread-self/ns/mnt";
  const own = sys.openat(AT_FDCWD, self, O_RDONLY | O_CLOEXEC);
  let theirs = -1;
  try {
    theirs = sys.openat(AT_FDCWD, donorMnt, O_RDONLY | O_CLOEXEC);
    sys.unshare(CLONE_FS);
    sys.setns(theirs, CLONE_NEWNS, donorMnt);
    try {
      return sys.openTree(AT_FDCWD, "/dev/shm", OPEN_TREE_CLONE);
    } finally {
      sys.setns(own, CLONE_NEWNS, self);
    }
  } finally {
    if (theirs >= 0) sys.close(theirs);
    sys.close(own);
  }
}

function joinNetns(sys: Syscalls, path: string): void {
  const fd = sys.openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  try {
    sys.setns(fd, CLONE_NEWNET, path);
  } finally {
    sys.close(fd);
  }
}

/**
 * On cgroup v1 init moves only its own (the JS) thread, through `tasks`: moving a whole
 * process through `cgroup.procs` takes the kernel's global threadgroup lock, which waits for
 * an RCU grace period (5-15 ms per start on this host, measured; exec.ts moves its child the
 * same way). Bun's other threads stay behind only until the execve below ends them, so the
 * command runs as one thread inside the container's cgroup; the cgroup namespace is made by
 * this thread, so it is rooted there as before. It also means a small --pids-limit is not
 * exceeded by Bun's threads on the way in (a limit of 2 used to kill init). (With --init there
 * is no execve: Bun's idle helper threads of the reaper stay outside; the reaper's JS thread
 * and everything it starts are inside.)
 */
function cgroupJoinFile(spec: InitSpec, procs: string): string {
  return (spec.cgroupVersion ?? "v1") === "v1" ? procs.replace(/cgroup\.procs$/, "tasks") : procs;
}
