// The runtime's init (`minid _oci-init`): started by `create` (in the container's new or
// joined PID namespace), it builds the container from config.json inside its namespaces and
// execs process.args in place, so the command is the container's PID 1, as runc's init does.
//
// Talking to create over fd 3, or 3+N after N --preserve-fds (newline-delimited JSON): "mounted" once the mounts are made,
// before pivot_root, so create runs prestart/createRuntime hooks in the runtime namespace;
// create answers "go"; init runs createContainer hooks, pivots, finishes and says "created",
// then blocks opening exec.fifo for writing until `start` opens it for reading. Then the
// startContainer hooks, the process's identity and confinement, and execve. A failure before
// "created" goes to create as {"type":"error"}; after it, to stderr.
import { readFileSync, readlinkSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { dirname } from "node:path";
import { ptr } from "bun:ffi";
import {
  unshare, setns, sethostname, setdomainname, mount, chdir, openat, close, prctl,
  personality, syscallChecked, sendFd, connectUnix, dup2, setControllingTerminal, setWindowSize,
  CLONE_FS, CLONE_NEWNS, AT_FDCWD, O_PATH, O_DIRECTORY, O_CLOEXEC, O_RDWR, O_NOCTTY, O_WRONLY, O_CREAT, O_NOFOLLOW, PR_SET_DUMPABLE,
  SyscallError, realSyscalls, fsat,
} from "../linux/libc.ts";
import { openInRoot, mkdirAllInRoot, fdPath } from "../linux/safepath.ts";
import { JsonLines } from "../container/fdio.ts";
import { findExecutable } from "../container/executable.ts";
import type { Config, Namespace } from "./config.ts";
import { NAMESPACE_FLAGS, JOINED_BEFORE_CLONE, MADE_BEFORE_INIT, hostId, personalityValue, timeOffsetsText } from "./config.ts";
import { mountRootfs, enterRootfs } from "./rootfs.ts";
import { checkRlimits, capabilityPlan, execProcess, withHome, seccompListener, type LoadedSeccomp } from "./process.ts";
import { runHooks } from "./hooks.ts";
import { RuntimeError } from "./errors.ts";
import { applyInitialAffinity } from "./scheduling.ts";
import { trace } from "../util/trace.ts";
import type { InheritedFds } from "./userns.ts";

import { OCI_INIT_ENV } from "./protocol.ts";
/** The channel to create: fd 3, or after the --preserve-fds ones. */
let CHAN = 3;

export interface InitPlan {
  id: string;
  bundle: string;
  rootfs: string;
  stateDir: string;
  config: Config;
  cgroupProcs: string[];
  consoleSocket?: string;
  noPivot: boolean;
  /** --preserve-fds: fds 3 … 3+N-1 stay open into the command. */
  preserveFds?: number;
  /** The seccomp filter create compiled (base64 BPF) and its seccomp(2) flags. */
  seccomp?: { filter: string; flags: number };
  /** The State hooks get (status "creating"; create fills pid). */
  state: { [k: string]: unknown };
  /** rootfsPropagation shared: the fd of create's mount namespace from before its seal, made ours first. */
  mountNamespaceFd?: number;
  /** Idmapped mounts: config.json's mount index → the fd of the detached tree create made (idmap.ts). */
  idmappedTrees?: { [index: number]: number };
  /** In a user namespace: what init cannot open by path comes as fds (userns.ts). */
  inherited?: InheritedFds;
}

export function ociInitMain(): never {
  const planPath = process.env[OCI_INIT_ENV];
  if (!planPath) {
    process.stderr.write("minid: _oci-init is internal and only started by minid-runtime create\n");
    process.exit(1);
  }
  let created = false;
  try {
    // "fd:N": in a user namespace init.json is root's, so create hands it over open.
    const planFd = planPath.startsWith("fd:") ? Number(planPath.slice(3)) : -1;
    const plan = JSON.parse(readFileSync(planFd >= 0 ? planFd : planPath, "utf8")) as InitPlan;
    if (planFd >= 0) close(planFd);
    CHAN = 3 + (plan.preserveFds ?? 0);
    run(plan, () => (created = true));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!created) {
      try {
        writeSync(CHAN, JSON.stringify({ type: "error", message }) + "\n");
      } catch {}
    }
    process.stderr.write(`minid-runtime: ${message}\n`);
    process.exit(1);
  }
}

function send(m: object): void {
  writeSync(CHAN, JSON.stringify(m) + "\n");
}

function run(plan: InitPlan, markCreated: () => void): never {
  trace("oci-init start");
  const c = plan.config;
  const p = c.process!;
  prctl(PR_SET_DUMPABLE, 0);
  // execCPUAffinity.initial: where this thread runs until the cgroup join (its cpuset may move it).
  applyInitialAffinity(p);
  const chan = new JsonLines(CHAN);
  // In a user namespace create has moved us (the files are root's).
  for (const f of plan.inherited ? [] : plan.cgroupProcs) {
    try {
      writeFileSync(f, "0");
    } catch (e: any) {
      throw new RuntimeError(`cannot join cgroup ${f}: ${e?.code ?? e}`);
    }
  }
  const inherited = plan.inherited;
  const consoleSock = inherited ? (inherited.console ?? -1) : p.terminal && plan.consoleSocket ? connectUnix(plan.consoleSocket) : -1;
  // In a user namespace the fifo comes as an O_PATH fd, reopened through this /proc/self/fd
  // (the host's /proc, still ours to use after the pivot), the state directory being root's.
  const stateFd = openat(AT_FDCWD, inherited ? "/proc/self/fd" : plan.stateDir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  const fifoName = inherited ? String(inherited.fifo) : "exec.fifo";
  // Ours already: the user namespace (create's clone made or joined it) and a time namespace
  // to join (create forked us into it: spawn-fork.ts).
  // In a user namespace, also those create joined before the clone (userns.ts).
  const nss = (c.linux?.namespaces ?? []).filter((n) => n.type !== "pid" && n.type !== "user" && !(n.type === "time" && n.path));
  const has = (t: string) => nss.some((n) => n.type === t);
  if (!has("mount")) throw new RuntimeError("config.json: linux.namespaces must include a mount namespace (minid does not build a container in the host's)");
  // In a user namespace, create, its clone or the child made or joined these already.
  const ours = (n: Namespace) => inherited && (n.path ? JOINED_BEFORE_CLONE.includes(n.type) : MADE_BEFORE_INIT.includes(n.type));
  if (plan.mountNamespaceFd !== undefined) {
    unshare(CLONE_FS);
    setns(plan.mountNamespaceFd, CLONE_NEWNS, "create's mount namespace");
    close(plan.mountNamespaceFd);
  }
  enterNamespaces(nss.filter((n) => !ours(n)));
  // The new time namespace is this process's children's until execve moves the command into
  // it (Linux 6.0+ switches on exec): its offsets can be written until then.
  if (c.linux?.timeOffsets) {
    try {
      writeFileSync("/proc/self/timens_offsets", timeOffsetsText(c.linux));
    } catch (e: any) {
      throw new RuntimeError(`cannot set linux.timeOffsets: ${e?.code ?? e}`);
    }
  }
  trace("oci-init namespaces");
  if (c.hostname !== undefined && c.hostname !== "") {
    if (!has("uts")) throw new RuntimeError("unable to set hostname without a private UTS namespace");
    sethostname(c.hostname);
  }
  if (c.domainname) {
    if (!has("uts")) throw new RuntimeError("unable to set domainname without a private UTS namespace");
    setdomainname(c.domainname);
  }
  applySysctls(c, nss);
  if (p.oomScoreAdj !== undefined) writeFileSync("/proc/self/oom_score_adj", String(p.oomScoreAdj));
  if (c.linux?.personality) personality(personalityValue(c.linux.personality));
  const caps = capabilityPlan(p);
  checkRlimits(p);
  const seccomp: LoadedSeccomp | undefined = plan.seccomp && { filter: Buffer.from(plan.seccomp.filter, "base64"), flags: plan.seccomp.flags };
  // SCMP_ACT_NOTIFY: the listener's socket is a host path, reachable only before the pivot;
  // /proc is still the host's here, so /proc/self names our PID as the listener sees it.
  if (seccomp) seccomp.listener = seccompListener(c, { ...plan.state, status: "running" }, Number(readlinkSync("/proc/self")));

  if (plan.inherited) reachable(plan.rootfs, c);
  const trees = new Map(Object.entries(plan.idmappedTrees ?? {}).map(([i, fd]) => [Number(i), fd]));
  let rootFd: number;
  try {
    rootFd = mountRootfs(c, plan.rootfs, plan.bundle, realSyscalls, { cgroupDirs: plan.inherited && plan.cgroupProcs.map((f) => dirname(f)), trees });
  } finally {
    // Attached, or not to be: done with (process.ts leaves no fd above the preserved ones to the command anyway).
    for (const fd of trees.values()) close(fd);
  }
  if (p.terminal) setupConsole(rootFd, consoleSock, p.consoleSize);

  trace("oci-init mounted");
  send({ type: "mounted" });
  const go = chan.next<{ type: string }>();
  if (go?.type !== "go") process.exit(1); // create gave up (a hook failed): it cleans up
  const hookErr = runHooks(c.hooks?.createContainer, { ...plan.state, pid: process.pid });
  if (hookErr) throw new RuntimeError(`createContainer hook: ${hookErr}`);

  enterRootfs(c, plan.rootfs, rootFd, plan.noPivot);
  const newRoot = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  enterCwd(newRoot, p.cwd);
  close(newRoot);

  const env = withHome(p.env ?? [], p.user.uid);
  const args = p.args!;
  const path = findExecutable(args[0]!, env);

  trace("oci-init created");
  send({ type: "created" });
  markCreated();
  chan.close();
  // Block until `start` opens the other end; then say so by a byte, as runc.
  let fifo: number;
  try {
    fifo = fsat.openat(stateFd, fifoName, O_WRONLY | O_CLOEXEC);
  } catch (e) {
    throw new RuntimeError(`cannot open exec fifo: ${(e as Error).message}`);
  }
  writeSync(fifo, "0");
  // The fifo stays open, close-on-exec: `start` reads EOF when the command has been exec'd
  // (or init died), and only then runs the poststart hooks.
  void closeSync;
  close(stateFd);
  if (inherited) close(inherited.fifo);

  const startErr = runHooks(c.hooks?.startContainer, { ...plan.state, status: "running", pid: process.pid });
  if (startErr) throw new RuntimeError(`startContainer hook: ${startErr}`);
  trace("oci-init exec");
  execProcess(p, caps, seccomp, path, args, env, plan.preserveFds ?? 0);
}

/** In a user namespace, a rootfs under a directory only the host's root may search is out of reach. */
function reachable(rootfs: string, c: Config): void {
  try {
    close(openat(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  } catch (e) {
    const uid = hostId(c.linux?.uidMappings, 0);
    const who = uid === undefined ? "the container's root" : `the container's root (host uid ${uid})`;
    throw new RuntimeError(`${who} cannot reach the rootfs ${rootfs}: ${(e as SyscallError).code ?? e}; every directory above it must be searchable by that user (chmod o+x)`);
  }
}

/** Join the namespaces given by path, then create the rest. Mount last among joins (it changes our root). */
export function enterNamespaces(nss: Namespace[]): void {
  unshare(CLONE_FS); // setns(mnt) refuses a thread sharing its fs_struct
  const joins = nss.filter((n) => n.path);
  const fds: [number, number, string][] = [];
  for (const n of joins) {
    try {
      fds.push([openat(AT_FDCWD, n.path!, 0 /* O_RDONLY */ | O_CLOEXEC), NAMESPACE_FLAGS[n.type]!, n.path!]);
    } catch (e) {
      throw new RuntimeError(`cannot open ${n.type} namespace ${n.path}: ${(e as SyscallError).code ?? e}`);
    }
  }
  fds.sort((a, b) => (a[1] === 0x20000 ? 1 : 0) - (b[1] === 0x20000 ? 1 : 0));
  for (const [fd, flag, path] of fds) {
    try {
      setns(fd, flag, path);
    } catch (e) {
      throw new RuntimeError(`cannot join namespace ${path}: ${(e as SyscallError).code ?? e}`);
    }
    close(fd);
  }
  let flags = 0;
  for (const n of nss) if (!n.path) flags |= NAMESPACE_FLAGS[n.type]!;
  if (flags) unshare(flags);
}

const IPC_SYSCTL = /^(kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)|fs\.mqueue\..+)$/;

function applySysctls(c: Config, nss: Namespace[]): void {
  for (const [k, v] of Object.entries(c.linux?.sysctl ?? {})) {
    const has = (t: string) => nss.some((n) => n.type === t);
    let ok = false;
    if (IPC_SYSCTL.test(k)) ok = has("ipc");
    else if (k.startsWith("net.")) ok = has("network");
    else if (k === "kernel.hostname" || k === "kernel.domainname") ok = has("uts");
    if (!ok) throw new RuntimeError(`sysctl ${JSON.stringify(k)} is not in a separate kernel namespace`);
    const file = `/proc/sys/${k.replace(/\./g, "/")}`;
    try {
      writeFileSync(file, v);
    } catch (e: any) {
      throw new RuntimeError(`cannot set sysctl ${k}=${v}: ${e?.code ?? e}`);
    }
  }
}

/**
 * A terminal from the container's own devpts: the master goes to --console-socket, the peer
 * becomes stdio, the controlling terminal and /dev/console.
 */
function setupConsole(rootFd: number, sock: number, size?: { height: number; width: number }): void {
  if (sock < 0) throw new RuntimeError("process.terminal is set but no --console-socket was given");
  // The container's devpts instance (mounted from config.json at /dev/pts), never the host's.
  let master: number;
  try {
    master = openInRoot(realSyscalls, rootFd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
  } catch (e) {
    throw new RuntimeError(`cannot open the container's /dev/pts/ptmx for the terminal (is devpts mounted at /dev/pts?): ${(e as Error).message}`);
  }
  const zero = new Int32Array(1);
  syscallChecked("ioctl(TIOCSPTLCK)", 16, master, 0x40045431, BigInt(ptr(zero)));
  const slave = syscallChecked("ioctl(TIOCGPTPEER)", 16, master, 0x5441, O_RDWR | O_NOCTTY | O_CLOEXEC);
  setWindowSize(master, size?.width || 80, size?.height || 24);
  let name = "";
  try {
    name = readlinkSync(fdPath(slave));
  } catch {}
  sendFd(sock, name, master);
  close(master);
  close(sock);
  const dev = openInRoot(realSyscalls, rootFd, "/dev", O_PATH | O_DIRECTORY);
  const dirFd = openat(dev, ".", O_DIRECTORY | O_CLOEXEC);
  close(dev);
  try {
    try {
      fsat.unlinkat(dirFd, "console", 0);
    } catch {}
    close(fsat.openat(dirFd, "console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600));
    mount(fdPath(slave), `${fdPath(dirFd)}/console`, null, 4096, null);
  } finally {
    close(dirFd);
  }
  for (const fd of [0, 1, 2]) dup2(slave, fd);
  close(slave);
  setControllingTerminal(0);
}

function enterCwd(rootFd: number, cwd: string): void {
  try {
    chdir(cwd);
    return;
  } catch (e) {
    if (!(e instanceof SyscallError) || e.code !== "ENOENT") throw new RuntimeError(`chdir to cwd (${JSON.stringify(cwd)}) set in config.json failed: ${(e as Error).message}`);
  }
  close(mkdirAllInRoot(realSyscalls, rootFd, cwd));
  chdir(cwd);
}

