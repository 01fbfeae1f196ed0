// The process `exec` starts (`minid _oci-exec`), born in the container's PID namespace: it
// joins the container's cgroup and its other namespaces, takes a terminal from the
// container's devpts if asked, applies the process's identity and the container's seccomp
// profile, and execs. A failure goes to `exec` as JSON on fd 3 (3+N after N --preserve-fds);
// a successful execve closes it (close-on-exec), which `exec` reads as "started".
import { readFileSync, readlinkSync, writeFileSync, writeSync } from "node:fs";
import { ptr } from "bun:ffi";
import {
  prctl, chdir, close, connectUnix, sendFd, dup2, setControllingTerminal, setWindowSize,
  syscallChecked, openat, AT_FDCWD, O_RDWR, O_NOCTTY, O_CLOEXEC, PR_SET_DUMPABLE, SyscallError, fchown,
} from "../linux/libc.ts";
import { findExecutable } from "../container/executable.ts";
import type { Config, Namespace, Process } from "./config.ts";
import { enterNamespaces } from "./init.ts";
import { checkRlimits, capabilityPlan, execProcess, withHome, seccompListener, type LoadedSeccomp } from "./process.ts";
import { RuntimeError } from "./errors.ts";
import { applyInitialAffinity } from "./scheduling.ts";

import { OCI_EXEC_ENV } from "./protocol.ts";

export interface ExecPlan {
  process: Process;
  config: Config;
  /** The container's State (a notifying seccomp profile's listener is sent it). */
  state?: { [k: string]: unknown };
  /** --preserve-fds: fds 3 … 3+N-1 stay open into the command; the status fd is 3+N. */
  preserveFds?: number;
  /** Namespaces to join by path (/proc/<init>/ns/…), the PID one excluded. */
  namespaces: Namespace[];
  cgroupProcs: string[];
  consoleSocket?: string;
  /** In a user namespace: the connected console socket, inherited (the socket's path is root's). */
  consoleFd?: number;
  /** The container's seccomp filter, compiled by exec (base64 BPF) and its flags. */
  seccomp?: { filter: string; flags: number };
}

export function ociExecMain(): never {
  const planPath = process.env[OCI_EXEC_ENV];
  if (!planPath) {
    process.stderr.write("minid: _oci-exec is internal and only started by minid-runtime exec\n");
    process.exit(1);
  }
  let plan: ExecPlan | undefined;
  try {
    // "fd:N": in the container's user namespace the plan file is root's, so it comes open.
    const planFd = planPath.startsWith("fd:") ? Number(planPath.slice(3)) : -1;
    plan = JSON.parse(readFileSync(planFd >= 0 ? planFd : planPath, "utf8")) as ExecPlan;
    if (planFd >= 0) close(planFd);
    run(plan);
  } catch (e) {
    try {
      writeSync(3 + (plan?.preserveFds ?? 0), JSON.stringify({ message: e instanceof Error ? e.message : String(e) }));
    } catch {}
    process.exit(1);
  }
}

function run(plan: ExecPlan): never {
  const p = plan.process;
  prctl(PR_SET_DUMPABLE, 0);
  // execCPUAffinity.initial: where this thread runs until the cgroup join (its cpuset may move it).
  applyInitialAffinity(p);
  for (const f of plan.cgroupProcs) {
    try {
      writeFileSync(f, "0");
    } catch {}
  }
  const sock = plan.consoleFd ?? (p.terminal && plan.consoleSocket ? connectUnix(plan.consoleSocket) : -1);
  const seccomp: LoadedSeccomp | undefined = plan.seccomp && { filter: Buffer.from(plan.seccomp.filter, "base64"), flags: plan.seccomp.flags };
  // SCMP_ACT_NOTIFY: the listener's socket is a host path, reached before the container's mount
  // namespace is joined; /proc is still the host's, so /proc/self is our PID as the listener sees it.
  if (seccomp) seccomp.listener = seccompListener(plan.config, plan.state ?? {}, Number(readlinkSync("/proc/self")));
  enterNamespaces(plan.namespaces);
  const caps = capabilityPlan(p);
  checkRlimits(p);
  if (p.terminal) {
    if (sock < 0) throw new RuntimeError("process.terminal is set but no --console-socket was given");
    const master = openat(AT_FDCWD, "/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    const zero = new Int32Array(1);
    syscallChecked("ioctl(TIOCSPTLCK)", 16, master, 0x40045431, BigInt(ptr(zero)));
    const slave = syscallChecked("ioctl(TIOCGPTPEER)", 16, master, 0x5441, O_RDWR | O_NOCTTY | O_CLOEXEC);
    setWindowSize(master, p.consoleSize?.width || 80, p.consoleSize?.height || 24);
    if (p.user.uid !== 0) fchown(slave, p.user.uid, -1);
    let name = "";
    try {
      name = readlinkSync(`/proc/self/fd/${slave}`);
    } catch {}
    sendFd(sock, name, master);
    close(master);
    close(sock);
    for (const fd of [0, 1, 2]) dup2(slave, fd);
    close(slave);
    setControllingTerminal(0);
  }
  if (p.oomScoreAdj !== undefined) writeFileSync("/proc/self/oom_score_adj", String(p.oomScoreAdj));
  try {
    chdir(p.cwd);
  } catch (e) {
    throw new RuntimeError(`chdir to cwd (${JSON.stringify(p.cwd)}) set in config.json failed: ${(e as SyscallError).code}`);
  }
  const env = withHome(p.env ?? [], p.user.uid);
  const args = p.args!;
  const path = findExecutable(args[0]!, env);
  execProcess(p, caps, seccomp, path, args, env, plan.preserveFds ?? 0);
}
