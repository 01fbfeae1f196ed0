// `minid exec`: run a command inside a running container, from this CLI process, without
// nsenter and without C. The host side lives here, on the main thread: it checks that the
// PID it found really is the container's init, opens the container's namespaces and cgroup
// files, and hands them to a Worker thread (exec-enter.ts) that enters the container for good
// and forks the command there. This thread never leaves the host, so nothing it holds is ever
// reachable from inside; it relays the terminal and signals and reports the exit status.
import { fstatSync, statSync, openSync, readFileSync, closeSync, read, createReadStream } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import type { InitSpec } from "../spec/init-spec.ts";
import type { EnterRequest } from "./exec-enter.ts";
import { containerProc, isAlive, isReaperInit } from "./proc.ts";
import { isRunning, liveState, settledState } from "./status.ts";
import { ExecError, execFailure } from "./executable.ts";
import { REPORT, STEPS } from "../linux/forkexec.ts";
import { terminalSize, writeAll, enterRawMode, restoreTerminal } from "./attach.ts";
import { reexecSealed } from "../linux/sealed-exe.ts";
import {
  prctl, pidfdOpen, pidfdSendSignal, close, setWindowSize, pipe2, errnoName, SyscallError, PR_SET_DUMPABLE, O_WRONLY, O_CLOEXEC,
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS,
} from "../linux/libc.ts";
import { trace } from "../util/trace.ts";
import { takeEnterWorker } from "./early-run.ts";
import { UserError, statusFromExit, signalNumber, EXIT_CANNOT_EXEC } from "../util/errors.ts";

const CAP_SYS_PTRACE = 19;

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
  if (liveState(st).status === "paused") throw new UserError(`Container ${st.name} is paused, unpause the container before exec`);
  const ref = containerProc(st)!;
  const dir = engine.containers.containerDir(st.id);
  let spec: InitSpec;
  try {
    spec = JSON.parse(readFileSync(join(dir, "init.json"), "utf8")) as InitSpec;
  } catch {
    throw new UserError(`container ${st.id} has no runtime spec: restart it`);
  }
  // Non-dumpable keeps /proc/PID/exe of the forked child closed, except to CAP_SYS_PTRACE:
  // into such a container we first re-exec from a read-only mount of ourselves
  // (CVE-2019-5736).
  if (o.privileged || spec.privileged || spec.capabilities?.includes(CAP_SYS_PTRACE)) reexecSealed();
  // Before anything opens a container's fd: the whole process, and so every fork of it.
  prctl(PR_SET_DUMPABLE, 0);
  // The entering thread loads its code while this one does the host side (cli.ts started it
  // before the CLI loaded, when it could tell the command was exec; see early-run.ts).
  const { worker, ready } = takeEnterWorker();
  // Docker's: the daemon's PATH, HOSTNAME and TERM (this exec's -t, not the container's), the
  // container's declared variables, then -e; HOME from the exec user's passwd entry when unset.
  const { daemonEnv, declaredEnv, imageEnvOf } = await import("./env.ts");
  const declared = declaredEnv(st, () => imageEnvOf(engine, st));
  const env = execEnv(daemonEnv(declared, st.config.hostname, o.tty), o.env, o.tty);
  await untilInside(ref, st);
  // Another OCI runtime built it: the same entry, running that runtime's exec (oci-exec.ts).
  const run = spec.runtime
    ? (await import("./oci-exec.ts")).runtimeExecPlan({ ...spec, runtime: spec.runtime }, st.id, dir, ref.pid, { ...o, env })
    : { spec, cmd: o.cmd, env, workdir: o.workdir, user: o.user, privileged: o.privileged };

  // Host side, before anything changes: fds of the container's namespaces and cgroup.
  let initPidfd: number;
  try {
    initPidfd = pidfdOpen(ref.pid);
  } catch {
    throw notRunning(st);
  }
  const fds: number[] = [];
  const keep = (fd: number) => (fds.push(fd), fd);
  const req: EnterRequest = {
    ...run, tty: o.tty,
    detach: o.detach, interactive: o.interactive, size: o.tty ? terminalSize() : undefined,
    namespaces: [], pidNamespace: -1, cgroupProcs: [], devNull: -1, report: -1,
  };
  try {
    if (!isAlive(ref)) throw notRunning(st);
    for (const [name, flag] of NAMESPACES) {
      const fd = keep(openSync(`/proc/${ref.pid}/ns/${name}`, "r"));
      // Joining the namespace we are already in is a no-op some kernels refuse: skip it.
      if (fstatSync(fd).ino !== statSync(`/proc/thread-self/ns/${name}`).ino) req.namespaces.push([fd, flag]);
    }
    req.pidNamespace = keep(openSync(`/proc/${ref.pid}/ns/pid`, "r"));
    // The fds were opened by PID: make sure that PID was still the container all along.
    if (!isAlive(ref)) throw notRunning(st);
    for (const procs of spec.cgroupProcs ?? []) {
      try {
        // Opened here, written by the child itself: only the command joins the container's
        // cgroup (and its limits), never this CLI. On v1 through `tasks`: a thread moving
        // itself skips the global threadgroup lock that a cgroup.procs write takes (an RCU
        // grace period, milliseconds per hierarchy, measured); the child has one thread.
        const file = spec.cgroupVersion === "v1" ? procs.replace(/cgroup\.procs$/, "tasks") : procs;
        req.cgroupProcs.push(keep(openSync(file, O_WRONLY | O_CLOEXEC)));
      } catch {
        // the cgroup may be gone with a container that is exiting
      }
    }
    req.devNull = keep(openSync("/dev/null", "r+"));
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    throw e;
  } finally {
    close(initPidfd);
  }

  trace("exec: host side ready");
  const [reportRead, reportWrite] = pipe2(O_CLOEXEC);
  req.report = reportWrite;
  const records = new ReportReader(reportRead);
  worker.postMessage(req);
  const closeHostFds = () => {
    for (const fd of req.cgroupProcs) closeSync(fd);
    closeSync(req.devNull);
  };
  worker.ref();
  const reply = await ready;
  trace("exec: entering thread ready");
  worker.unref();
  if (reply.type === "error") {
    closeHostFds();
    records.close();
    throw reply.user ? new ExecError(reply.message, reply.exitCode) : new Error(reply.message);
  }
  const start = await records.next();
  trace("exec: command started");
  closeHostFds();
  // The child holds its own copy of the terminal's peer: ours would keep the master from EOF.
  if (reply.slave !== undefined) closeSync(reply.slave);
  if (start[0] === REPORT.EXEC_FAILED) {
    throw execFailure(o.cmd[0]!, new SyscallError("execve", start[1]));
  }
  if (start[0] === REPORT.FAILED) {
    throw new UserError(`exec: entering the container failed at ${STEPS[start[1]] ?? start[1]}: ${errnoName(start[2])}`, EXIT_CANNOT_EXEC);
  }
  const pidfd = start[2];
  const announce = execEvents(engine, st, o.cmd);
  if (o.detach) {
    close(pidfd);
    records.close();
    return 0;
  }
  const exited = records.next().then(([, code, sig]): Exit => (code >= 0 ? { code, signal: null } : { code: null, signal: sig }));
  const signal = (sig: number) => {
    try {
      pidfdSendSignal(pidfd, sig);
    } catch {}
  };
  try {
    const m = reply.master !== undefined ? await ttySession(reply.master, signal, exited) : await plainSession(signal, exited);
    const status = statusFromExit(m.code, m.signal);
    announce(status);
    return status;
  } finally {
    close(pidfd);
    records.close();
  }
}

/** Docker's exec_create and exec_start (now: the command runs), and exec_die for `announce(exitCode)`. */
function execEvents(engine: Engine, st: ContainerState, cmd: string[]): (exitCode: number) => void {
  const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
  const { newId } = require("../util/ids.ts") as typeof import("../util/ids.ts");
  const execID = newId();
  const base = { execID, image: st.image, name: st.name };
  const words = cmd.join(" ");
  recordEvent(engine.root, { Type: "container", Action: `exec_create: ${words}`, id: st.id, attributes: base });
  recordEvent(engine.root, { Type: "container", Action: `exec_start: ${words}`, id: st.id, attributes: base });
  return (exitCode) => recordEvent(engine.root, { Type: "container", Action: "exec_die", id: st.id, attributes: { ...base, exitCode: String(exitCode) } });
}


/**
 * The 16-byte REPORT records the entering thread writes (linux/forkexec.ts), read on demand
 * by fs.read on the thread pool: a read stream would load node:stream, ~4 ms of every exec.
 */
class ReportReader {
  private buf: Buffer = Buffer.alloc(0);
  private pending = false;
  private closed = false;
  constructor(private readonly fd: number) {}
  async next(): Promise<[number, number, number]> {
    while (this.buf.length < 16) {
      const chunk = await this.readSome();
      if (!chunk) throw new Error("exec: the entering thread stopped reporting");
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    }
    const rec: [number, number, number] = [this.buf.readInt32LE(0), this.buf.readInt32LE(4), this.buf.readInt32LE(8)];
    this.buf = this.buf.subarray(16);
    return rec;
  }
  private readSome(): Promise<Buffer | undefined> {
    this.pending = true;
    return new Promise((resolve) => {
      const b = Buffer.allocUnsafe(64);
      read(this.fd, b, 0, b.length, null, (err, n) => {
        this.pending = false;
        if (this.closed) closeSync(this.fd);
        resolve(err || n === 0 ? undefined : b.subarray(0, n));
      });
    });
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A read still queued for the pool must not find the number reused: it closes the fd.
    if (!this.pending) closeSync(this.fd);
  }
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
    if (theirs !== ours || isReaperInit(ref.pid)) return;
    if (Date.now() > deadline) throw new UserError(`container ${st.id} is still starting`);
    await Bun.sleep(5);
  }
}

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;
type Exit = { code: number | null; signal: number | null };

async function plainSession(signal: (n: number) => void, exited: Promise<Exit>): Promise<Exit> {
  const handlers = FORWARDED.map((sig) => {
    const h = () => signal(signalNumber(sig)!);
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    return await exited;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

async function ttySession(master: number, signal: (n: number) => void, exited: Promise<Exit>): Promise<Exit> {
  enterRawMode();
  const { writeSync } = await import("node:fs");
  const out = createReadStream("", { fd: master, autoClose: false, highWaterMark: 65536 });
  let drained!: () => void;
  const closed = new Promise<void>((r) => (drained = r));
  out.on("data", (d) => writeAll(1, d as Buffer));
  // EIO once the last holder of the terminal's other side is gone: all output is through.
  out.on("error", () => drained());
  out.on("end", () => drained());
  const onData = (d: Buffer) => {
    try {
      writeSync(master, d);
    } catch {}
  };
  const onWinch = () => {
    const s = terminalSize();
    if (s) setWindowSize(master, s.cols, s.rows);
  };
  const onSignal = (sig: NodeJS.Signals) => signal(signalNumber(sig)!);
  process.stdin.on("data", onData);
  process.on("SIGWINCH", onWinch);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    const m = await exited;
    await Promise.race([closed, Bun.sleep(200)]);
    return m;
  } finally {
    process.stdin.off("data", onData);
    process.stdin.pause();
    process.off("SIGWINCH", onWinch);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    out.destroy();
    close(master);
    restoreTerminal();
  }
}
