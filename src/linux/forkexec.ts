// fork + execve from a Bun thread, for a child that must never share memory with us.
//
// Bun.spawn uses vfork(): until the child's execve, it runs on our address space. A process
// that can ptrace that child (a container holding CAP_SYS_PTRACE, whose PID namespace the
// child is born into) could write into our memory and take over threads that are far more
// privileged than the child. A real fork gives the child a copy instead, so whoever reaches
// it holds only what the forking thread held, which the caller makes the container's own.
//
// The child runs JavaScript on a copy of the VM whose other threads are gone, so it must not
// allocate, lock or JIT: everything it touches is computed here first, and its path to execve
// is a short run of raw syscalls on precomputed numbers. Two Bun facts make it work (measured
// here, Bun 1.4.5): the JIT region is mapped MADV_DONTFORK (a forked child faults on its first
// return into JIT code), so every mapping is made MADV_DOFORK first; and clone() through
// syscall(2) skips libc's atfork handlers, which would run code we do not control.
import { ptr, read } from "bun:ffi";
import { readFileSync } from "node:fs";
import {
  SyscallError, rawSyscall, errnoAddress, pipe2, O_CLOEXEC, TIOCSCTTY,
  SYS_write, SYS_read, SYS_close, SYS_ioctl, SYS_dup2, SYS_clone, SYS_execve, SYS_exit_group,
  SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_setsid, SYS_close_range, SYS_madvise, SYS_setgroups,
  SYS_setresgid, SYS_setresuid, SYS_capset, SYS_waitid, P_PIDFD, WEXITED, WNOHANG, PR_SET_SECCOMP,
  SECCOMP_MODE_FILTER, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE, CLONE_NEWPID, LINUX_CAPABILITY_VERSION_3,
  type PathArg,
} from "./libc.ts";
import { signalsInMask } from "./signals.ts";

const CLONE_PIDFD = 0x1000;
const SIGCHLD = 17;
const MADV_DOFORK = 11;
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
const CLOSE_RANGE_CLOEXEC = 4;
const EINTR = 4;
const SYS_setns = 308, SYS_prctl = 157, SYS_chdir = 80, SYS_pause = 34, SYS_prlimit64 = 302;
const PR_SET_KEEPCAPS = 8, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_CLEAR_ALL = 4;

/**
 * What the forking thread takes on for good right before the fork, in the order that works:
 * a PID namespace for its children (needs CAP_SYS_ADMIN, so first), a seccomp filter loaded
 * while that is still allowed, the bounding set, the user (thread-scoped raw calls, keeping
 * capabilities across the switch when `caps` is given), ambient and inheritable sets cleared,
 * effective = permitted = `caps`, no_new_privs (and a filter that needed it), the directory.
 */
export interface Confinement {
  pidNamespace?: number;
  /** struct sock_fprog of a filter, and whether it is loaded after no_new_privs. */
  seccomp?: { prog: Buffer; filter: Buffer; afterNoNewPrivs: boolean };
  dropBounding: number[];
  user?: { uid: number; gid: number; groups: number[] };
  /** Capability mask for effective and permitted; undefined leaves them as they are. */
  caps?: bigint;
  noNewPrivs: boolean;
  cwd: PathArg;
  /** setrlimit in the child before execve (the container's --ulimit: [resource, soft, hard], -1 unlimited). */
  rlimits?: [resource: number, soft: number, hard: number][];
}

export interface ForkExecPlan {
  path: PathArg;
  /** argv[0] first; strings are UTF-8, byte arrays go as they are. */
  argv: PathArg[];
  envp: PathArg[];
  /** dup2(from, to) in this order (e.g. a pty's peer onto 0, 1, 2). */
  dup: [from: number, to: number][];
  /** setsid() first: the child leads its own session and process group. */
  setsid: boolean;
  /** Make the terminal on this fd (after the dups) the controlling terminal. */
  ctty?: number;
  /** fds that get "0" written into them: cgroup.procs files, so the child moves itself. */
  joinCgroups: number[];
  confine: Confinement;
  /**
   * Where the outcome goes, as 16-byte records of int32 [kind, a, b, 0]: STARTED pid pidfd,
   * FAILED step errno (of the confinement), EXEC_FAILED errno, EXITED code signal (code -1
   * when killed). Written with raw syscalls: after the confinement nothing may allocate.
   */
  report: number;
  /** After STARTED: wait for the child and report EXITED. */
  wait: boolean;
}

export const REPORT = { STARTED: 1, FAILED: 2, EXEC_FAILED: 3, EXITED: 4 } as const;
/** The confinement's steps, as FAILED records number them. */
export const STEPS = [
  "setns(pid)", "seccomp", "capability bounding set", "keepcaps", "setgroups", "setresgid",
  "setresuid", "ambient capabilities", "capset", "no_new_privs", "chdir", "clone",
] as const;

function bytes(s: PathArg): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
  const z = Buffer.allocUnsafe(b.length + 1);
  b.copy(z);
  z[b.length] = 0;
  return z;
}

function pointerArray(bufs: Buffer[]): BigUint64Array {
  const a = new BigUint64Array(bufs.length + 1);
  bufs.forEach((b, i) => (a[i] = BigInt(ptr(b))));
  return a;
}

/**
 * Signals whose disposition the child resets before it unblocks signals: the ignored ones,
 * which would survive execve (Bun ignores SIGPIPE), and the caught ones, whose handlers are
 * Bun's and must not run in the child in the moment before its execve.
 */
function signalsToReset(): number[] {
  const status = readFileSync("/proc/self/status", "utf8");
  return [...signalsInMask(status, "SigIgn"), ...signalsInMask(status, "SigCgt")];
}

/**
 * Let a fork copy every mapping. Must run while /proc/self is ours (before the calling thread
 * joins a container's mount namespace). Advice on a mapping that refuses it is ignored.
 */
export function prepareFork(): void {
  const maps = readFileSync("/proc/self/maps", "latin1");
  let start = 0;
  while (start < maps.length) {
    let end = maps.indexOf("\n", start);
    if (end < 0) end = maps.length;
    const dash = maps.indexOf("-", start);
    const space = maps.indexOf(" ", dash);
    if (dash > start && space > dash && space < end) {
      const lo = BigInt("0x" + maps.slice(start, dash));
      const hi = BigInt("0x" + maps.slice(dash + 1, space));
      rawSyscall(SYS_madvise, lo, hi - lo, MADV_DOFORK, 0, 0);
    }
    start = end + 1;
  }
  toReset = signalsToReset();
}
let toReset: number[] | undefined; // signalsToReset(), once prepareFork has run

/**
 * What a child needs to put its signals right before execve, as numbers and pointers made
 * before the fork: the signals to reset, a SIG_DFL sigaction, the empty and the full set.
 * `keep` holds the buffers alive.
 */
function signalReset() {
  if (!toReset) throw new Error("prepareFork() must run first");
  const sigs = Int32Array.from(toReset);
  const sigDefault = new BigUint64Array(4); // struct kernel_sigaction, handler SIG_DFL
  const emptySet = new BigUint64Array(1);
  const fullSet = new BigUint64Array([0xffffffffffffffffn]);
  return { sigs, nSig: sigs.length, pSigDefault: ptr(sigDefault), pEmptySet: ptr(emptySet), pFullSet: ptr(fullSet), keep: [sigs, sigDefault, emptySet, fullSet] };
}

/**
 * Confine the calling thread as `plan.confine` says, fork it, execve `plan` in the child, and
 * report through `plan.report`. The calling thread is spent: it ends blocked for good (all
 * signals masked), because once its children belong to another PID namespace the kernel
 * refuses it new threads, which the VM may want at any allocation. Everything is therefore
 * computed before the first irreversible call, and nothing after it allocates.
 */
export function confineForkExec(plan: ForkExecPlan): never {
  const { sigs, nSig, pSigDefault, pEmptySet, pFullSet, keep: signalBuffers } = signalReset();
  const path = bytes(plan.path);
  const argvBufs = plan.argv.map(bytes);
  const envBufs = plan.envp.map(bytes);
  const argv = pointerArray(argvBufs);
  const envp = pointerArray(envBufs);
  const [errRead, errWrite] = pipe2(O_CLOEXEC);
  const k = plan.confine;

  // Everything below, as numbers.
  const pPath = ptr(path), pArgv = ptr(argv), pEnvp = ptr(envp);
  const zero = Buffer.from("0");
  const pZero = ptr(zero);
  const cgroups = Int32Array.from(plan.joinCgroups);
  const dupFrom = Int32Array.from(plan.dup.map((d) => d[0]));
  const dupTo = Int32Array.from(plan.dup.map((d) => d[1]));
  const errBox = new Int32Array(1);
  const pErrBox = ptr(errBox);
  const pErrno = errnoAddress()!;
  const doSetsid = plan.setsid;
  const ctty = plan.ctty ?? -1;
  const nCg = cgroups.length, nDup = dupFrom.length;
  const pidfdBox = new Int32Array(1);
  const pPidfd = ptr(pidfdBox);
  const record = new Int32Array(4);
  const pRecord = ptr(record);
  const report = plan.report;
  const wantWait = plan.wait;
  const info = new Int32Array(32); // siginfo_t
  const pInfo = ptr(info);
  const got = new Int32Array(1);
  const pGot = ptr(got);

  const pidNs = k.pidNamespace ?? -1;
  const seccompFirst = k.seccomp && !k.seccomp.afterNoNewPrivs ? ptr(k.seccomp.prog) : 0;
  const seccompLast = k.seccomp && k.seccomp.afterNoNewPrivs ? ptr(k.seccomp.prog) : 0;
  const drops = Int32Array.from(k.dropBounding);
  const nDrops = drops.length;
  const switchUser = k.user !== undefined;
  const groups = Uint32Array.from(k.user?.groups.length ? k.user.groups : [0]);
  const nGroups = k.user?.groups.length ?? 0;
  const pGroups = ptr(groups);
  const uid = k.user?.uid ?? 0, gid = k.user?.gid ?? 0;
  const keepCaps = switchUser && k.caps !== undefined;
  const setCaps = k.caps !== undefined;
  const capHdr = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const mask = k.caps ?? 0n;
  const lo = Number(mask & 0xffffffffn), hi = Number((mask >> 32n) & 0xffffffffn);
  const capData = new Uint32Array([lo, lo, 0, hi, hi, 0]); // {effective, permitted, inheritable} × 2
  const pCapHdr = ptr(capHdr), pCapData = ptr(capData);
  const nnp = k.noNewPrivs;
  const cwd = bytes(k.cwd);
  const pCwd = ptr(cwd);
  const rl = k.rlimits ?? [];
  const nRl = rl.length;
  const rlRes = Int32Array.from(rl.map((x) => x[0]));
  const rlBuf = new BigUint64Array(Math.max(1, nRl * 2));
  rl.forEach(([, soft, hard], i) => {
    rlBuf[i * 2] = soft < 0 ? 0xffffffffffffffffn : BigInt(soft);
    rlBuf[i * 2 + 1] = hard < 0 ? 0xffffffffffffffffn : BigInt(hard);
  });
  const pRl = Float64Array.from(rl.map((_, i) => ptr(rlBuf) + i * 16));
  const keepAlive = [rlBuf, path, argvBufs, envBufs, argv, envp, zero, signalBuffers, k.seccomp, groups, capHdr, capData, cwd];

  const send = (kind: number, a: number, b: number): void => {
    record[0] = kind;
    record[1] = a;
    record[2] = b;
    rawSyscall(SYS_write, report, pRecord, 16, 0, 0);
  };
  const spent = (): never => {
    for (;;) rawSyscall(SYS_pause, 0, 0, 0, 0, 0);
  };
  const fail = (step: number): never => {
    send(REPORT.FAILED, step, read.i32(pErrno, 0));
    return spent();
  };

  // From here on: no allocation. Signals are left to the other threads.
  rawSyscall(SYS_rt_sigprocmask, SIG_BLOCK, pFullSet, 0, 8, 0);
  if (pidNs >= 0 && rawSyscall(SYS_setns, pidNs, CLONE_NEWPID, 0, 0, 0) < 0) fail(0);
  if (seccompFirst && rawSyscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, seccompFirst, 0, 0) < 0) fail(1);
  for (let i = 0; i < nDrops; i++) if (rawSyscall(SYS_prctl, PR_CAPBSET_DROP, drops[i]!, 0, 0, 0) < 0) fail(2);
  if (keepCaps && rawSyscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail(3);
  if (switchUser) {
    if (rawSyscall(SYS_setgroups, nGroups, pGroups, 0, 0, 0) < 0) fail(4);
    if (rawSyscall(SYS_setresgid, gid, gid, gid, 0, 0) < 0) fail(5);
    if (rawSyscall(SYS_setresuid, uid, uid, uid, 0, 0) < 0) fail(6);
  }
  if (keepCaps && rawSyscall(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail(3);
  if (rawSyscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) fail(7);
  if (setCaps && rawSyscall(SYS_capset, pCapHdr, pCapData, 0, 0, 0) < 0) fail(8);
  if (nnp && rawSyscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(9);
  if (seccompLast && rawSyscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, seccompLast, 0, 0) < 0) fail(1);
  if (rawSyscall(SYS_chdir, pCwd, 0, 0, 0, 0) < 0) fail(10);

  const pid = rawSyscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, pPidfd, 0, 0);
  if (pid === 0) {
    // The child: raw syscalls on precomputed numbers until execve.
    for (let i = 0; i < nCg; i++) rawSyscall(SYS_write, cgroups[i]!, pZero, 1, 0, 0);
    if (doSetsid) rawSyscall(SYS_setsid, 0, 0, 0, 0, 0);
    for (let i = 0; i < nDup; i++) rawSyscall(SYS_dup2, dupFrom[i]!, dupTo[i]!, 0, 0, 0);
    if (ctty >= 0) rawSyscall(SYS_ioctl, ctty, TIOCSCTTY, 0, 0, 0);
    rawSyscall(SYS_close_range, 3, 0xffffffff, CLOSE_RANGE_CLOEXEC, 0, 0);
    for (let i = 0; i < nRl; i++) rawSyscall(SYS_prlimit64, 0, rlRes[i]!, pRl[i]!, 0, 0);
    for (let i = 0; i < nSig; i++) rawSyscall(SYS_rt_sigaction, sigs[i]!, pSigDefault, 0, 8, 0);
    rawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, pEmptySet, 0, 8, 0);
    rawSyscall(SYS_execve, pPath, pArgv, pEnvp, 0, 0);
    errBox[0] = read.i32(pErrno, 0);
    rawSyscall(SYS_write, errWrite, pErrBox, 4, 0, 0);
    rawSyscall(SYS_exit_group, 127, 0, 0, 0, 0);
  }
  rawSyscall(SYS_close, errWrite, 0, 0, 0, 0);
  if (pid < 0) fail(11);
  const pidfd = pidfdBox[0]!;
  // End of file: the child exec'd (the pipe is close-on-exec). Four bytes: its errno.
  let n = -1;
  while (n < 0) {
    n = rawSyscall(SYS_read, errRead, pGot, 4, 0, 0);
    if (n < 0 && read.i32(pErrno, 0) !== EINTR) break;
  }
  rawSyscall(SYS_close, errRead, 0, 0, 0, 0);
  const reap = (): void => {
    while (rawSyscall(SYS_waitid, P_PIDFD, pidfd, pInfo, WEXITED, 0) < 0 && read.i32(pErrno, 0) === EINTR) {}
  };
  if (n === 4) {
    reap();
    send(REPORT.EXEC_FAILED, got[0]!, 0);
    return spent();
  }
  send(REPORT.STARTED, pid, pidfd);
  if (wantWait) {
    reap();
    // si_code at int 2 (CLD_EXITED = 1), si_status at int 6
    if (info[2] === 1) send(REPORT.EXITED, info[6]!, 0);
    else send(REPORT.EXITED, -1, info[6]!);
  }
  void keepAlive;
  return spent();
}

export interface RawSpawn {
  path: PathArg;
  argv: PathArg[];
  envp: PathArg[];
  /** setns(fd, flag) first in the child, in order, while it is single-threaded. */
  setns: [fd: number, flag: number][];
  /** dup2(from, to) in this order, after setsid. */
  dup: [from: number, to: number][];
  setsid: boolean;
  /** The child keeps fds below this (after the dups) and closes every other one. */
  keepBelow: number;
  /**
   * Our fds below keepBelow that the child keeps as they are (stdio, preserved fds); every
   * other fd there that is not a dup target stays close-on-exec, so nothing opened for the
   * spawn (a namespace fd, a dup source) that happens to be numbered low reaches the process.
   */
  inherit: number[];
  /** chdir before execve (after the setns). */
  cwd?: PathArg;
  /**
   * Namespaces the clone itself creates (CLONE_NEWUSER, CLONE_NEWPID): a user namespace
   * cannot be unshared by a multithreaded process, but a clone may make one for its child.
   */
  cloneFlags?: number;
  /**
   * The child waits before anything else until launch()'s `afterClone` has run (which writes
   * a new user namespace's uid and gid maps, say).
   */
  hold?: boolean;
  /**
   * After the setns and chdir, the child becomes uid and gid 0 of its user namespace and drops
   * its supplementary groups: the host's root is no one there, and only a process whose
   * effective uid is the namespace's root keeps its capabilities across execve.
   */
  becomeRoot?: boolean;
  /**
   * After the setns, a new PID namespace (of the user namespace just joined) whose PID 1 runs
   * on: the child unshares it and clones the process that carries on as our own child
   * (CLONE_PARENT), then exits. launch() returns that process.
   */
  newPidNamespace?: boolean;
  /** unshare(2) these right after the setns (namespaces of a joined user namespace). */
  unshare?: number;
}

/** The child's steps, as its error report numbers them. */
const RAW_STEPS = ["setns", "execve", "chdir", "wait for the parent", "setresgid", "setgroups", "setresuid", "unshare(CLONE_NEWPID)", "clone", "unshare"];
/** A report record that is no failure: [GRANDCHILD, pid] (newPidNamespace). */
const GRANDCHILD = 100;

const SYS_fcntl = 72, F_SETFD = 2, F_DUPFD_CLOEXEC = 1030, SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434;
const SYS_unshare = 272, SYS_kill = 62, SYS_wait4 = 61, CLONE_PARENT = 0x8000;

/**
 * fork + execve from a thread that carries on afterwards, for a child that must do what only
 * a single-threaded process may: setns(CLONE_NEWTIME) answers any thread of a Bun process
 * EUSERS, so a command is born in a container's time namespace only from a fork. The child
 * runs raw syscalls on precomputed numbers until execve (as confineForkExec's does).
 *
 * Everything is computed here; the returned launch() only forks, so that it can run where
 * this thread must not grow the VM (inside pidns.ts's window, say). launch() returns the
 * child's pid and a pidfd for it (close-on-exec; the caller reaps the child), or throws a
 * SyscallError naming the step that failed (setns, chdir, execve). prepareFork() must have run.
 */
export function prepareSpawnRaw(s: RawSpawn): (afterClone?: (pid: number) => void) => { pid: number; pidfd: number } {
  const { sigs, nSig, pSigDefault, pEmptySet, pFullSet, keep: signalBuffers } = signalReset();
  const path = bytes(s.path);
  const argvBufs = s.argv.map(bytes);
  const envBufs = s.envp.map(bytes);
  const argv = pointerArray(argvBufs);
  const envp = pointerArray(envBufs);
  const pPath = ptr(path), pArgv = ptr(argv), pEnvp = ptr(envp);
  const nsFd = Int32Array.from(s.setns.map((x) => x[0]));
  const nsFlag = Int32Array.from(s.setns.map((x) => x[1]));
  const nNs = nsFd.length;
  const dupOrig = s.dup.map((d) => d[0]);
  const dupFrom = new Int32Array(dupOrig.length);
  const dupTo = Int32Array.from(s.dup.map((d) => d[1]));
  const nDup = dupFrom.length;
  const keepBelow = s.keepBelow;
  const doSetsid = s.setsid;
  const cwd = s.cwd === undefined ? null : bytes(s.cwd);
  const pCwd = cwd ? ptr(cwd) : 0;
  const cloneFlags = s.cloneFlags ?? 0;
  const hold = Boolean(s.hold);
  const becomeRoot = Boolean(s.becomeRoot);
  const newPidNs = Boolean(s.newPidNamespace);
  const unshareFlags = s.unshare ?? 0;
  const grandBox = new Int32Array([GRANDCHILD, 0]);
  const pGrandBox = ptr(grandBox);
  const holdByte = new Uint8Array(1);
  const pHoldByte = ptr(holdByte);
  const oldSet = new BigUint64Array(1);
  const pOldSet = ptr(oldSet);
  // [step, errno]: the index of the step in RAW_STEPS.
  const errBox = new Int32Array(2);
  const pErrBox = ptr(errBox);
  const pErrno = errnoAddress()!;
  const pidfdBox = new Int32Array(1);
  const pPidfd = ptr(pidfdBox);
  const got = new Int32Array(2);
  const pGot = ptr(got);
  const dupTargets = new Set(s.dup.map((d) => d[1]));
  const internal = new Set([...s.setns.map((x) => x[0]), ...s.dup.map((d) => d[0])]);
  const inherit = s.inherit.filter((fd) => fd < keepBelow && !dupTargets.has(fd) && !internal.has(fd));
  const keepAlive = [path, argvBufs, envBufs, argv, envp, signalBuffers, oldSet, errBox, cwd, holdByte, grandBox];
  let errWrite = -1;
  /** fd moved to keepBelow or above (close-on-exec), if it is below. */
  const high = (fd: number): number => {
    if (fd >= keepBelow) return fd;
    const moved = rawSyscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, keepBelow, 0, 0);
    const e = read.i32(pErrno, 0);
    rawSyscall(SYS_close, fd, 0, 0, 0, 0);
    if (moved < 0) throw new SyscallError("fcntl(F_DUPFD_CLOEXEC)", e);
    return moved;
  };
  // The child's way out (made here: the child must not allocate, not even a closure).
  const die = (step: number): void => {
    errBox[0] = step;
    errBox[1] = read.i32(pErrno, 0);
    rawSyscall(SYS_write, errWrite, pErrBox, 8, 0, 0);
    rawSyscall(SYS_exit_group, 127, 0, 0, 0, 0);
  };

  return (afterClone) => {
    // fds the child keeps survive its execve: cleared here, not by a loop in the child.
    for (const fd of inherit) rawSyscall(SYS_fcntl, fd, F_SETFD, 0, 0, 0);
    // The pipes live above every target: a dup2 onto one would cut the child's report.
    const [errRead, w] = pipe2(O_CLOEXEC).map(high);
    errWrite = w!;
    const [holdRead, holdWrite] = hold ? pipe2(O_CLOEXEC).map(high) : [-1, -1];
    // The child dups from copies above every target: a source numbered like an earlier
    // target would be overwritten first, and dup2 onto itself would keep close-on-exec.
    for (let i = 0; i < nDup; i++) {
      dupFrom[i] = rawSyscall(SYS_fcntl, dupOrig[i]!, F_DUPFD_CLOEXEC, keepBelow, 0, 0);
      if (dupFrom[i]! < 0) {
        const e = read.i32(pErrno, 0);
        for (const fd of [...dupFrom.subarray(0, i), errRead, w, holdRead, holdWrite]) if (fd >= 0) rawSyscall(SYS_close, fd, 0, 0, 0, 0);
        throw new SyscallError("fcntl(F_DUPFD_CLOEXEC)", e);
      }
    }
    const closeCopies = () => {
      for (let i = 0; i < nDup; i++) rawSyscall(SYS_close, dupFrom[i]!, 0, 0, 0, 0);
    };
    // No signal handler of ours may run in the child before its dispositions are reset.
    rawSyscall(SYS_rt_sigprocmask, SIG_BLOCK, pFullSet, pOldSet, 8, 0);
    const pid = rawSyscall(SYS_clone, CLONE_PIDFD | SIGCHLD | cloneFlags, 0, pPidfd, 0, 0);
    if (pid === 0) {
      // Nothing that joins (or is born in) the container may ptrace this copy of our memory,
      // which belongs to the host's user namespace, while it is still the host's root.
      rawSyscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
      if (hold) {
        // Our copy of the write end goes first, so a parent that dies reads as end of file.
        rawSyscall(SYS_close, holdWrite, 0, 0, 0, 0);
        let n = -1;
        while (n < 0) {
          n = rawSyscall(SYS_read, holdRead, pHoldByte, 1, 0, 0);
          if (n < 0 && read.i32(pErrno, 0) !== EINTR) die(3);
        }
        if (n !== 1) rawSyscall(SYS_exit_group, 127, 0, 0, 0, 0);
      }
      for (let i = 0; i < nNs; i++) if (rawSyscall(SYS_setns, nsFd[i]!, nsFlag[i]!, 0, 0, 0) < 0) die(0);
      if (unshareFlags && rawSyscall(SYS_unshare, unshareFlags, 0, 0, 0, 0) < 0) die(9);
      if (newPidNs) {
        // unshare(CLONE_NEWPID) moves only our children: the one that goes on is cloned as
        // our parent's, says its pid on the report pipe (which it shares), and we are done.
        if (rawSyscall(SYS_unshare, CLONE_NEWPID, 0, 0, 0, 0) < 0) die(7);
        const grand = rawSyscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (grand < 0) die(8);
        if (grand > 0) {
          grandBox[1] = grand;
          rawSyscall(SYS_write, errWrite, pGrandBox, 8, 0, 0);
          rawSyscall(SYS_exit_group, 0, 0, 0, 0, 0);
        }
      }
      // Still uid 0 of the host here: owner of root's directories on the way (no capability of
      // the new user namespace reaches the host's inodes).
      if (pCwd && rawSyscall(SYS_chdir, pCwd, 0, 0, 0, 0) < 0) die(2);
      if (becomeRoot) {
        if (rawSyscall(SYS_setresgid, 0, 0, 0, 0, 0) < 0) die(4);
        if (rawSyscall(SYS_setgroups, 0, 0, 0, 0, 0) < 0) die(5);
        if (rawSyscall(SYS_setresuid, 0, 0, 0, 0, 0) < 0) die(6);
      }
      if (doSetsid) rawSyscall(SYS_setsid, 0, 0, 0, 0, 0);
      for (let i = 0; i < nDup; i++) rawSyscall(SYS_dup2, dupFrom[i]!, dupTo[i]!, 0, 0, 0);
      // Every fd from keepBelow up (the error pipe among them) goes at execve.
      rawSyscall(SYS_close_range, keepBelow, 0xffffffff, CLOSE_RANGE_CLOEXEC, 0, 0);
      for (let i = 0; i < nSig; i++) rawSyscall(SYS_rt_sigaction, sigs[i]!, pSigDefault, 0, 8, 0);
      rawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, pEmptySet, 0, 8, 0);
      rawSyscall(SYS_execve, pPath, pArgv, pEnvp, 0, 0);
      die(1);
    }
    const cloneErrno = pid < 0 ? read.i32(pErrno, 0) : 0;
    rawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, pOldSet, 0, 8, 0);
    rawSyscall(SYS_close, errWrite, 0, 0, 0, 0);
    closeCopies();
    if (hold) rawSyscall(SYS_close, holdRead, 0, 0, 0, 0);
    void keepAlive;
    if (pid < 0) {
      rawSyscall(SYS_close, errRead, 0, 0, 0, 0);
      if (hold) rawSyscall(SYS_close, holdWrite, 0, 0, 0, 0);
      throw new SyscallError("clone", cloneErrno);
    }
    if (hold) {
      // The child waits on this: whatever afterClone throws, it is killed and reaped first.
      let failed: unknown;
      try {
        afterClone?.(pid);
        if (rawSyscall(SYS_write, holdWrite, pHoldByte, 1, 0, 0) !== 1) failed = new SyscallError("write", read.i32(pErrno, 0), "the child's go-ahead");
      } catch (e) {
        failed = e;
      }
      rawSyscall(SYS_close, holdWrite, 0, 0, 0, 0);
      if (failed) {
        rawSyscall(SYS_pidfd_send_signal, pidfdBox[0]!, 9, 0, 0, 0);
        rawSyscall(SYS_close, errRead, 0, 0, 0, 0);
        waitPidfd(pidfdBox[0]!, false);
        rawSyscall(SYS_close, pidfdBox[0]!, 0, 0, 0, 0);
        throw failed;
      }
    }
    // End of file: the child exec'd (the pipe is close-on-exec). Eight bytes: where it failed
    // (or, first, the pid of the process that went on in a new PID namespace).
    let n = -1;
    let readErrno = 0;
    let grand = 0;
    while (n < 0) {
      n = rawSyscall(SYS_read, errRead, pGot, 8, 0, 0);
      if (n < 0 && (readErrno = read.i32(pErrno, 0)) !== EINTR) break;
      if (n === 8 && got[0] === GRANDCHILD && !grand) {
        grand = got[1]!;
        n = -1;
      }
    }
    rawSyscall(SYS_close, errRead, 0, 0, 0, 0);
    let pidfd = pidfdBox[0]!;
    let childPid = pid;
    if (grand) {
      // The first child has exited (or is about to): reaped here; the one that went on is ours.
      waitPidfd(pidfd, false);
      rawSyscall(SYS_close, pidfd, 0, 0, 0, 0);
      pidfd = rawSyscall(SYS_pidfd_open, grand, 0, 0, 0, 0);
      childPid = grand;
      if (pidfd < 0) {
        const e = read.i32(pErrno, 0);
        rawSyscall(SYS_kill, grand, 9, 0, 0, 0);
        rawSyscall(SYS_wait4, grand, 0, 0, 0, 0);
        throw new SyscallError("pidfd_open", e);
      }
    }
    if (n !== 0) {
      // Failed (or we cannot tell: then it must not run on as if started).
      if (n !== 8) rawSyscall(SYS_pidfd_send_signal, pidfd, 9, 0, 0, 0);
      waitPidfd(pidfd, false);
      rawSyscall(SYS_close, pidfd, 0, 0, 0, 0);
      if (n !== 8) throw new SyscallError("read", readErrno || 5 /* EIO */, "the child's exec report");
      const step = RAW_STEPS[got[0]!] ?? "spawn";
      const what = got[0] === 1 ? path : got[0] === 2 ? cwd : null;
      throw new SyscallError(step, got[1]!, what ? what.subarray(0, -1).toString() : undefined);
    }
    return { pid: childPid, pidfd };
  };
}

/**
 * Reap the child a pidfd names. With `poll`, only if it has exited: undefined while it runs.
 * The status as Bun reports a child's: an exit code, or the signal that killed it.
 */
export function waitPidfd(pidfd: number, poll: boolean): { code: number | null; signal: number | null } | undefined {
  const info = new Int32Array(32); // siginfo_t: si_pid at int 4, si_code at 2, si_status at 6
  const pInfo = ptr(info);
  for (;;) {
    const r = rawSyscall(SYS_waitid, P_PIDFD, pidfd, pInfo, WEXITED | (poll ? WNOHANG : 0), 0);
    if (r < 0) {
      const e = read.i32(errnoAddress()!, 0);
      if (e === EINTR) continue;
      throw new SyscallError("waitid", e);
    }
    if (poll && info[4] === 0) return undefined;
    return info[2] === 1 /* CLD_EXITED */ ? { code: info[6]!, signal: null } : { code: null, signal: info[6]! };
  }
}
