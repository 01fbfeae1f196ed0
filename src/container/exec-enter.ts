// The thread that enters a container for `minid exec` (a Worker of the exec CLI).
//
// Linux keeps namespaces, root, credentials and the seccomp filter per thread. This thread
// takes on all of the container's, irreversibly, and only then forks the command: the child
// is born into the container's PID namespace already holding no more than the container's
// own processes do, and with a copy of our memory rather than a share of it (forkexec.ts), so
// a container process that may ptrace it (CAP_SYS_PTRACE) gains nothing. The thread is spent
// afterwards (it can no longer return to the host's namespaces, nor start threads), which is
// why it is a Worker: the CLI's main thread stays on the host, untouched.
//
// Order: /proc/self is read while it is ours; unshare(CLONE_FS) then setns into cgroup, ipc,
// uts, net and mnt (our root is now the container's, so the user, working directory and
// command are looked up inside it); a terminal from the container's devpts; setns(pid), which
// needs CAP_SYS_ADMIN; then seccomp, bounding/ambient/inheritable sets, user, no_new_privs;
// chdir as that user; fork + execve.
import { statSync } from "node:fs";
import type { InitSpec } from "../spec/init-spec.ts";
import { findExecutable, ExecError } from "./executable.ts";
import { confinementOf, resolveContainerUser } from "./security.ts";
import { UserError, EXIT_CANNOT_EXEC } from "../util/errors.ts";
import { trace } from "../util/trace.ts";
import { argBytes } from "../util/argbytes.ts";
trace("exec-enter: loaded");
import { openPty, fchown, realSyscalls, CLONE_FS } from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";
import { prepareFork, confineForkExec } from "../linux/forkexec.ts";

export interface EnterRequest {
  spec: InitSpec;
  cmd: string[];
  env: string[];
  workdir?: string;
  user?: string;
  privileged: boolean;
  tty: boolean;
  detach: boolean;
  interactive: boolean;
  size?: { cols: number; rows: number };
  /** Namespace fds opened by the host side: [fd, CLONE_NEW* flag]. */
  namespaces: [number, number][];
  pidNamespace: number;
  /** cgroup.procs files of the container, opened for writing by the host side. */
  cgroupProcs: number[];
  devNull: number;
  /** Write end of the pipe that carries forkexec's REPORT records. */
  report: number;
}

/** Sent (by message) when entering fails before the point of no return; the pty otherwise. */
export type EnterReply =
  | { type: "ready"; master?: number; slave?: number }
  | { type: "error"; message: string; exitCode: number; user: boolean };

/**
 * Join the container's namespaces but the PID one, on this thread only: setns(mnt) refuses a
 * thread that shares its fs_struct, so CLONE_FS goes first; each fd is closed once joined.
 * The PID namespace is joined last, in forkexec.ts, as it ends this thread's ability to make
 * threads.
 */
export function joinNamespaces(sys: Syscalls, namespaces: [fd: number, flag: number][]): void {
  sys.unshare(CLONE_FS);
  for (const [fd, flag] of namespaces) {
    sys.setns(fd, flag);
    sys.close(fd);
  }
}

function enter(r: EnterRequest, reply: (m: EnterReply) => void): never {
  trace("exec-enter: request");
  prepareFork();
  trace("exec-enter: fork prepared");
  joinNamespaces(realSyscalls, r.namespaces);
  let env = r.env;
  let user: ReturnType<typeof resolveContainerUser>;
  try {
    user = resolveContainerUser({ ...r.spec, userSpec: r.user ?? r.spec.userSpec });
  } catch (e) {
    // The command cannot be invoked as that user: 126, as Docker's exec.
    throw new ExecError((e as Error).message, EXIT_CANNOT_EXEC);
  }
  if (!env.some((e) => e.startsWith("HOME="))) env = [...env, `HOME=${user.home}`];
  const cwd = r.workdir ?? r.spec.cwd ?? "/";
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {}
  if (!isDir) throw new ExecError(`chdir to cwd ("${cwd}") set in config.json failed: no such file or directory`, EXIT_CANNOT_EXEC);
  const path = findExecutable(r.cmd[0]!, env);

  // --privileged on exec: the command keeps our full set, as Docker's does.
  const spec: InitSpec = r.privileged ? { ...r.spec, capabilities: undefined, seccomp: false, noNewPrivileges: false } : r.spec;
  const confine = { ...confinementOf(spec, user, cwd), pidNamespace: r.pidNamespace };

  const pty = r.tty && !r.detach ? openPty(r.size?.cols ?? 80, r.size?.rows ?? 24) : undefined;
  // The terminal belongs to the user who runs in it, as a login would make it.
  if (pty && user.uid !== 0) fchown(pty.slave, user.uid, -1);
  const stdio: [number, number][] = pty
    ? [[pty.slave, 0], [pty.slave, 1], [pty.slave, 2]]
    : r.detach
      ? [[r.devNull, 0], [r.devNull, 1], [r.devNull, 2]]
      : r.interactive
        ? []
        : [[r.devNull, 0]];
  reply({ type: "ready", master: pty?.master, slave: pty?.slave });
  trace("exec-enter: confining");
  return confineForkExec({
    path,
    // The words as the user typed them, bytes that are not UTF-8 included (util/argbytes.ts).
    argv: r.cmd.map(argBytes),
    envp: env.map(argBytes),
    dup: stdio,
    setsid: true,
    ctty: pty ? 0 : undefined,
    joinCgroups: r.cgroupProcs,
    confine,
    report: r.report,
    wait: !r.detach,
  });
}

declare const self: Worker;
// Only as the Worker: a unit test imports joinNamespaces from the main thread.
if (!Bun.isMainThread) self.onmessage = (ev: MessageEvent<EnterRequest>) => {
  const reply = (m: EnterReply) => self.postMessage(m);
  try {
    enter(ev.data, reply);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    reply({ type: "error", message: err.message ?? String(e), exitCode: err.exitCode ?? EXIT_CANNOT_EXEC, user: e instanceof UserError });
  }
};
