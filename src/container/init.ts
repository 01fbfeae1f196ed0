// The container's init: spawned by the engine as PID 1 of a new PID namespace, it enters the
// remaining namespaces, builds the root filesystem, and execs the user's command in place, so
// the command itself becomes PID 1. Errors travel to the engine over fd 3 (a socket the engine
// holds); a successful exec closes fd 3 (CLOEXEC), which the engine reads as "started".
import { closeSync, readFileSync, writeSync } from "node:fs";
import type { InitSpec } from "../spec/init-spec.ts";
import {
  execve, closeRangeCloexec, SyscallError, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET,
  CLONE_NEWCGROUP, CLONE_FS, OPEN_TREE_CLONE, AT_FDCWD, O_PATH, O_DIRECTORY, O_CLOEXEC, O_RDONLY, PR_SET_DUMPABLE, realSyscalls,
} from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";
import { setupRootfs } from "../linux/rootfs.ts";
import { mkdirAllInRoot } from "../linux/safepath.ts";
import { EXIT_CANNOT_EXEC, EXIT_ENGINE, EXIT_NOT_FOUND, UserError } from "../util/errors.ts";
import { applyProcessSecurity, resolveContainerUser } from "./security.ts";
import { trace } from "../util/trace.ts";
import { findExecutable, execFailure } from "./executable.ts";
import { cloneConsole, attachConsole } from "./console.ts";
import { readToEof } from "./fdio.ts";
import { argBytes } from "../util/argbytes.ts";
import { setThreadName } from "../linux/libc.ts";
import { resetSignalsForExec } from "../linux/signals.ts";

export const INIT_ENV = "MINID_INIT_SPEC";
const STATUS_FD = 3;

class InitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Never returns, except with --init (init serves as the reaper from then on: reaper.ts). */
export function initMain(): void {
  const specPath = process.env[INIT_ENV];
  if (!specPath) {
    // A re-exec that lost its marker must stop here, never fall through into the CLI again.
    process.stderr.write("minid: _init is internal and only started by minid itself\n");
    process.exit(EXIT_ENGINE);
  }
  try {
    // "fd:4": started ahead of its container, init waits there for its spec's path (and,
    // on a second line, the path of the network namespace the watcher prepared).
    const [path, netns] = specPath === "fd:4" ? readToEof(4).toString("utf8").split("\n") : [specPath];
    const spec = JSON.parse(readFileSync(path!, "utf8")) as InitSpec;
    if (spec.netns === "prepared") spec.netns = netns || "new";
    start(spec);
  } catch (e) {
    const exitCode = e instanceof InitError || e instanceof UserError ? e.exitCode : EXIT_ENGINE;
    const message = e instanceof Error ? e.message : String(e);
    report({ message, exitCode });
    process.exit(exitCode);
  }
}

function report(status: { message: string; exitCode: number }): void {
  try {
    writeSync(STATUS_FD, JSON.stringify(status));
  } catch {
    process.stderr.write(`minid: ${status.message}\n`);
  }
}

/** Returns only for --init (init then serves as the reaper from the event loop). */
function start(spec: InitSpec, sys: Syscalls = realSyscalls): void {
  trace("init start");
  // --runtime: another OCI runtime builds the container from a bundle (oci-runtime.ts).
  if (spec.runtime) (require("./oci-runtime.ts") as typeof import("./oci-runtime.ts")).runWithRuntime(spec as InitSpec & { runtime: NonNullable<InitSpec["runtime"]> }, STATUS_FD);
  enterContainer(spec, sys);
  const user = resolveContainerUser(spec);
  if (!spec.env.some((e) => e.startsWith("HOME="))) spec.env.push(`HOME=${user.home}`);
  enterWorkdir(spec.cwd, sys);
  const path = findExecutable(spec.args[0]!, spec.env);
  if (spec.runOptions?.ulimits || spec.runOptions?.oomScoreAdj !== undefined) {
    const { applyUlimits, applyOomScoreAdj } = require("./run-limits.ts") as typeof import("./run-limits.ts");
    if (spec.runOptions.ulimits) applyUlimits(spec.runOptions.ulimits);
    if (spec.runOptions.oomScoreAdj !== undefined) applyOomScoreAdj(spec.runOptions.oomScoreAdj);
  }
  applyProcessSecurity(spec, user, sys);
  closeRangeCloexec(STATUS_FD);
  trace("init exec");
  // "About to exec" (INIT_EXEC_MARK in init-launch.ts): an EOF without it means init died
  // before the command could run, which the watcher must not take for a start.
  writeSync(STATUS_FD, "x");
  // Bun's ignored SIGPIPE/SIGXFSZ and this thread's mask would survive execve.
  resetSignalsForExec();
  try {
    if (spec.runOptions?.init) return becomeReaper(path, spec);
    // Words carry non-UTF-8 bytes as escapes (util/argbytes.ts): exec the bytes themselves.
    execve(path, spec.args.map(argBytes), spec.env.map(argBytes));
  } catch (e) {
    throw execFailure(spec.args[0]!, e);
  }
}

/**
 * --init: stay as PID 1 and reap (container/reaper.ts). Named first, so that whoever sees the
 * start (the watcher reads EOF on the status fd) also sees a running container, not init.
 */
function becomeReaper(path: string, spec: InitSpec): void {
  const { reap } = require("./reaper.ts") as typeof import("./reaper.ts");
  const { REAPER_NAME } = require("./reaper.ts") as typeof import("./reaper.ts");
  setThreadName(REAPER_NAME);
  const cmd = [Buffer.from(path), ...spec.args.map(argBytes)];
  const env = spec.env.map(argBytes);
  closeSync(STATUS_FD);
  reap(cmd, env);
}

/**
 * Everything from the host's view to the container's: cgroups joined, namespaces entered,
 * hostname set, root filesystem built and pivoted into. Exported for the root-free tests of
 * the order of these calls (test/unit/rootfs-plan.test.ts).
 */
export function enterContainer(spec: InitSpec, sys: Syscalls = realSyscalls): void {
  // Nothing in the container may open /proc/<init>/exe (the minid binary) while we run
  // (CVE-2019-5736); execve makes the user's command dumpable again.
  sys.prctl(PR_SET_DUMPABLE, 0);
  // Join the cgroup first so the cgroup namespace created below is rooted at it.
  for (const procs of spec.cgroupProcs ?? []) sys.writeFile(cgroupJoinFile(spec, procs), "0");
  // The terminal's mount must be taken while it is still in our mount namespace (console.ts).
  const consoleTree = spec.tty ? cloneConsole(sys) : -1;
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
  sys.unshare(CLONE_NEWNS | own | (netns === "new" ? CLONE_NEWNET : 0) | (spec.cgroupProcs?.length ? CLONE_NEWCGROUP : 0));
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
  setupRootfs(spec, sys);
  if (consoleTree >= 0) attachConsole(consoleTree, sys);
  if (shmTree >= 0) {
    try {
      // /dev is the container's fresh tmpfs, its shm directory made by the mount plan.
      sys.moveMount(shmTree, "/dev/shm");
    } finally {
      sys.close(shmTree);
    }
  }
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

/** chdir into the working directory inside the container, creating it as Docker does. */
export function enterWorkdir(cwd: string, sys: Syscalls = realSyscalls): void {
  try {
    sys.chdir(cwd);
    return;
  } catch (e) {
    if (!(e instanceof SyscallError) || e.code !== "ENOENT") {
      throw new InitError(`cannot enter working directory ${cwd}: ${(e as Error).message}`, EXIT_ENGINE);
    }
  }
  // Docker creates a missing working directory.
  const root = sys.openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    sys.close(mkdirAllInRoot(sys, root, cwd));
  } finally {
    sys.close(root);
  }
  sys.chdir(cwd);
}

