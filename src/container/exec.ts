// `minid exec`: run a command inside a running container, from this CLI process, without
// nsenter and without C. Linux applies namespaces and credentials per thread, and Bun.spawn
// forks from the JS thread, so the JS thread takes on everything the command must have, spawns
// it, and takes back what it needs to live on:
//   1. host side: pidfd + start time (the PID really is the container's init), namespace fds,
//      our own PID namespace (to come back to), the container's cgroup joined;
//   2. PR_SET_DUMPABLE 0 first: no container process may open our /proc/PID/exe, the host's
//      minid binary (CVE-2019-5736); the child stays non-dumpable until its execve;
//   3. unshare(CLONE_FS) (setns(mnt) refuses a thread sharing its fs_struct), then setns into
//      cgroup, ipc, uts, net and mnt: the thread's root is now the container's root, so the
//      user, working directory and command are looked up inside it;
//   4. the container's confinement, thread-scoped: bounding set, ambient and inheritable sets
//      (root gets exactly the container's capabilities at execve), no_new_privs, and the user
//      via raw setres[ug]id (glibc's setuid would switch every thread);
//   5. setns(pid) only around the spawn: a thread whose children go to another PID namespace
//      cannot create threads, which Bun needs; then root and the own PID namespace come back.
import { fstatSync, openSync, readFileSync, statSync, writeFileSync, closeSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import type { InitSpec } from "./spec.ts";
import { containerProc, isAlive } from "./proc.ts";
import { isRunning, settledState } from "./status.ts";
import { findExecutable, execFailure, ExecError } from "./executable.ts";
import { resolveContainerUser } from "./security.ts";
import {
  unshare, setns, prctl, capget, capset, pidfdOpen, close, threadSetgroups, threadSetresgid, threadSetresuid,
  CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS,
  PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS,
} from "../linux/libc.ts";
// Everything is imported up front: once the thread is in the container's mount namespace, a
// lazy import (from source) would look for our files inside the container.
import { terminalSize, writeAll, enterRawMode, restoreTerminal } from "./attach.ts";
import { kernelLastCap } from "../linux/capabilities.ts";
import { reexecSealed } from "../linux/sealed-exe.ts";
import * as seccomp from "../linux/seccomp.ts";
import { ptr } from "bun:ffi";
import { UserError, EXIT_CANNOT_EXEC, statusFromExit, signalNumber } from "../util/errors.ts";

const PR_SET_KEEPCAPS = 8;
const CAP_SYS_PTRACE = 19;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

export interface ExecOptions {
  cmd: string[];
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  /** -e entries (NAME=value, or NAME to copy from our environment). */
  env: string[];
  workdir?: string;
  user?: string;
  privileged: boolean;
}

const NAMESPACES: [name: string, flag: number][] = [
  ["cgroup", CLONE_NEWCGROUP],
  ["ipc", CLONE_NEWIPC],
  ["uts", CLONE_NEWUTS],
  ["net", CLONE_NEWNET],
  ["mnt", CLONE_NEWNS],
];

function notRunning(st: ContainerState): UserError {
  return new UserError(`container ${st.id} is not running`);
}

export function execEnv(base: string[], flags: string[], tty: boolean): string[] {
  const env = new Map<string, string>();
  const set = (e: string) => {
    const i = e.indexOf("=");
    env.set(e.slice(0, i), e.slice(i + 1));
  };
  for (const e of base) set(e);
  for (const e of flags) {
    if (e.startsWith("=")) throw new UserError(`invalid environment variable: ${e}`);
    if (e.includes("=")) set(e);
    else if (process.env[e] !== undefined) env.set(e, process.env[e]!);
  }
  if (tty && !env.has("TERM")) env.set("TERM", "xterm");
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** Run the command; resolves with its exit status (0 at once with `detach`). */
export async function execInContainer(engine: Engine, st0: ContainerState, o: ExecOptions): Promise<number> {
  const st = settledState(engine, st0);
  if (!isRunning(st)) throw notRunning(st);
  const ref = containerProc(st)!;
  const dir = engine.containers.containerDir(st.id);
  let spec: InitSpec;
  try {
    spec = JSON.parse(readFileSync(join(dir, "init.json"), "utf8")) as InitSpec;
  } catch {
    throw new UserError(`container ${st.id} has no runtime spec: restart it`);
  }
  // Non-dumpable (below) keeps /proc/PID/exe closed, except to CAP_SYS_PTRACE: into such a
  // container we first re-exec from a read-only mount of ourselves (CVE-2019-5736).
  if (o.privileged || spec.privileged || spec.capabilities?.includes(CAP_SYS_PTRACE)) reexecSealed();
  let env = execEnv(st.config.env, o.env, o.tty);
  await untilInside(ref, st);

  // 1. Host side, before anything changes.
  let pidfd: number;
  try {
    pidfd = pidfdOpen(ref.pid);
  } catch {
    throw notRunning(st);
  }
  const fds: [number, number][] = [];
  let ownPid = -1;
  try {
    if (!isAlive(ref)) throw notRunning(st);
    const own = (n: string) => fstatSync(openAndKeep(`/proc/thread-self/ns/${n}`)).ino;
    for (const [name, flag] of NAMESPACES) {
      const fd = openSync(`/proc/${ref.pid}/ns/${name}`, "r");
      // Joining the namespace we are already in is a no-op some kernels refuse: skip it.
      if (fstatSync(fd).ino === own(name)) closeSync(fd);
      else fds.push([fd, flag]);
    }
    const pidNs = openSync(`/proc/${ref.pid}/ns/pid`, "r");
    fds.push([pidNs, CLONE_NEWPID]);
    ownPid = openSync("/proc/thread-self/ns/pid", "r");
    // The fds were opened by PID: make sure that PID was still the container all along.
    if (!isAlive(ref)) throw notRunning(st);
    for (const procs of spec.cgroupProcs ?? []) {
      try {
        writeFileSync(procs, String(process.pid));
      } catch {
        // the cgroup may be gone with a container that is exiting
      }
    }
  } catch (e) {
    for (const [fd] of fds) closeSync(fd);
    if (ownPid >= 0) closeSync(ownPid);
    close(pidfd);
    throw e;
  } finally {
    closeKept();
  }

  // 2–3. Into the container (this thread only).
  prctl(PR_SET_DUMPABLE, 0);
  unshare(CLONE_FS);
  const pidEntry = fds.pop()!;
  for (const [fd, flag] of fds) {
    setns(fd, flag);
    closeSync(fd);
  }
  close(pidfd);

  const user = resolveContainerUser({ ...spec, userSpec: o.user ?? spec.userSpec });
  if (user && !env.some((e) => e.startsWith("HOME="))) env = [...env, `HOME=${user.home}`];
  const cwd = o.workdir ?? spec.cwd ?? "/";
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {}
  if (!isDir) throw new ExecError(`chdir to cwd ("${cwd}") set in config.json failed: no such file or directory`, EXIT_CANNOT_EXEC);
  const path = findExecutable(o.cmd[0]!, env);

  // A terminal made now comes from the container's own devpts: `tty` names a device there.
  let ttyDone!: () => void;
  const ttyClosed = new Promise<void>((r) => (ttyDone = r));
  const size = o.tty ? terminalSize() : undefined;
  // Inline options (not a Bun.Terminal object) so that Bun makes it the controlling terminal.
  const terminal =
    o.tty && !o.detach
      ? { cols: size?.cols ?? 80, rows: size?.rows ?? 24, data: (_t: unknown, d: Uint8Array) => writeAll(1, d), exit: () => ttyDone() }
      : undefined;

  // 4. Confinement for what we spawn next.
  if (!o.privileged && spec.capabilities && !spec.privileged) {
    const keep = new Set(spec.capabilities);
    const last = kernelLastCap();
    for (let c = 0; c <= last; c++) if (!keep.has(c)) prctl(PR_CAPBSET_DROP, c);
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  const caps = capget();
  capset({ ...caps, inheritable: 0n });
  if (!o.privileged && spec.noNewPrivileges) prctl(PR_SET_NO_NEW_PRIVS, 1);
  const switchUser = Boolean(user && (user.uid !== 0 || user.gid !== 0 || user.additionalGids.length));

  // 5. The PID namespace, for this one spawn. While this thread's children go to another PID
  // namespace, the kernel refuses it new threads (clone(CLONE_THREAD) → EINVAL), and Bun
  // aborts if it wants one then (a JIT or pool thread, a GC helper). So everything is built
  // before, the collector has just run, and the window holds only syscalls and the spawn.
  const argv = [path, ...o.cmd.slice(1)];
  const options = {
    argv0: o.cmd[0],
    cwd,
    env: Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
    ...(terminal
      ? { terminal }
      : {
          stdio: o.detach ? ["ignore", "ignore", "ignore"] : [o.interactive ? "inherit" : "ignore", "inherit", "inherit"],
          // Its own process group: our signals reach it through us, once.
          detached: true,
        }),
  } as any;
  const filter = !o.privileged && spec.seccomp ? execSeccompProgram(spec.capabilities ?? [], ownPid) : undefined;
  const ids = user ? { uid: user.uid, gid: user.gid, groups: user.additionalGids } : undefined;
  Bun.gc(true);
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let failure: unknown;
  // setns needs the capabilities the user switch drops; the seccomp filter refuses it but for
  // the way back.
  setns(pidEntry[0], CLONE_NEWPID);
  try {
    if (filter) prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, Number(ptr(filter.prog)));
    if (switchUser) {
      prctl(PR_SET_KEEPCAPS, 1);
      threadSetgroups(ids!.groups);
      threadSetresgid(ids!.gid, ids!.gid, ids!.gid);
      threadSetresuid(ids!.uid, ids!.uid, ids!.uid);
    }
    proc = Bun.spawn(argv, options);
  } catch (e) {
    failure = e;
  } finally {
    if (switchUser) {
      const now = capget();
      capset({ effective: now.permitted, permitted: now.permitted, inheritable: 0n });
      threadSetresuid(0, 0, 0);
      threadSetresgid(0, 0, 0);
      threadSetgroups([]);
      prctl(PR_SET_KEEPCAPS, 0);
    }
    setns(ownPid, CLONE_NEWPID);
    closeSync(ownPid);
    closeSync(pidEntry[0]);
  }
  void filter;
  if (!proc) throw execFailure(o.cmd[0]!, failure);

  if (o.detach) {
    proc.unref();
    return 0;
  }
  return proc.terminal ? await ttySession(proc, proc.terminal, ttyClosed) : await plainSession(proc);
}

const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;

/**
 * The container's seccomp filter, to load on this thread so the command inherits it. One
 * exception goes first: setns(ownPidNsFd, CLONE_NEWPID), which this thread needs to return to
 * its own PID namespace after the spawn. It grants the command nothing: the kernel still
 * requires CAP_SYS_ADMIN for setns, and the fd number names nothing the command can reach.
 */
function execSeccompProgram(caps: number[], ownPidFd: number): { prog: Buffer; filter: Buffer } {
  const { buildFilter, encodeFilter } = seccomp;
  const LD = 0x20, JEQ = 0x15, RET = 0x06;
  const SYS_SETNS = 308, ARCH = 0xc000003e, ALLOW = 0x7fff0000;
  const exception: [number, number, number, number][] = [
    [LD, 0, 0, 4], // arch
    [JEQ, 0, 7, ARCH],
    [LD, 0, 0, 0], // nr
    [JEQ, 0, 5, SYS_SETNS],
    [LD, 0, 0, 16], // args[0] (low word)
    [JEQ, 0, 3, ownPidFd],
    [LD, 0, 0, 24], // args[1] (low word)
    [JEQ, 0, 1, CLONE_NEWPID],
    [RET, 0, 0, ALLOW],
  ];
  const filter = encodeFilter([...exception, ...buildFilter(caps)] as Parameters<typeof encodeFilter>[0]);
  const prog = Buffer.alloc(16); // struct sock_fprog { u16 len; pad; struct sock_filter *filter }
  prog.writeUInt16LE(filter.length / 8, 0);
  prog.writeBigUInt64LE(BigInt(ptr(filter)), 8);
  return { prog, filter };
}

/**
 * A container is "running" from the moment its init exists, a few milliseconds before init has
 * made its namespaces and root and exec'd the command: until then its executable is ours.
 * Never join namespaces that may still be the host's: wait for the exec.
 */
async function untilInside(ref: { pid: number }, st: ContainerState): Promise<void> {
  const { readlinkSync } = await import("node:fs");
  const ours = readlinkSync("/proc/self/exe");
  const deadline = Date.now() + 5000;
  for (;;) {
    let theirs: string;
    try {
      theirs = readlinkSync(`/proc/${ref.pid}/exe`);
    } catch {
      throw notRunning(st);
    }
    if (theirs !== ours) return;
    if (Date.now() > deadline) throw new UserError(`container ${st.id} is still starting`);
    await Bun.sleep(5);
  }
}

let kept: number[] = [];
function openAndKeep(path: string): number {
  const fd = openSync(path, "r");
  kept.push(fd);
  return fd;
}
function closeKept(): void {
  for (const fd of kept) closeSync(fd);
  kept = [];
}

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

async function plainSession(proc: ReturnType<typeof Bun.spawn>): Promise<number> {
  const handlers = FORWARDED.map((sig) => {
    const h = () => {
      try {
        proc.kill(signalNumber(sig)!);
      } catch {}
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  const code = await proc.exited;
  for (const [sig, h] of handlers) process.off(sig, h);
  return statusFromExit(code, proc.signalCode ?? null);
}

async function ttySession(proc: ReturnType<typeof Bun.spawn>, terminal: Bun.Terminal, closed: Promise<void>): Promise<number> {
  enterRawMode();
  const onData = (d: Buffer) => terminal.write(d);
  const onWinch = () => {
    const s = terminalSize();
    if (s) terminal.resize(s.cols, s.rows);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    try {
      proc.kill(signalNumber(sig)!);
    } catch {}
  };
  process.stdin.on("data", onData);
  process.on("SIGWINCH", onWinch);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    const code = await proc.exited;
    await Promise.race([closed, Bun.sleep(200)]);
    return statusFromExit(code, proc.signalCode ?? null);
  } finally {
    process.stdin.off("data", onData);
    process.stdin.pause();
    process.off("SIGWINCH", onWinch);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    terminal.close();
    restoreTerminal();
  }
}
