// Starting one of the runtime's own processes (exec's, or create's init) where a Bun thread
// cannot go: into a time or user namespace (setns answers any thread of a multithreaded
// process EUSERS or EINVAL, and a Bun process always is one), or born in a new user namespace
// (unshare refuses it too). So the process is forked (a single thread) or cloned with the new
// namespace, enters the joined ones, and execs minid, which then runs as Bun.spawn would have
// started it.
import { constants } from "node:os";
import { RuntimeError } from "./errors.ts";
import { AT_FDCWD, O_CLOEXEC, O_RDWR, SyscallError, close, openat, socketPair } from "../linux/libc.ts";
import { prepareFork, prepareSpawnRaw, waitPidfd } from "../linux/forkexec.ts";

/** What callers use of a Bun.spawn result, for a process started here. */
export interface SpawnedProcess {
  pid: number;
  exited: Promise<number>;
  stdio: unknown[];
  unref(): void;
  exitCode: number | null;
  signalCode: string | null;
}

export interface ForkedSpawnOptions {
  env: Record<string, string>;
  /** stdio as childStdio(terminal, preserve) arranges it: /dev/null with a terminal, ours otherwise. */
  terminal: boolean;
  preserve: number;
  cwd?: string;
  /** Namespaces to join, in this order (a user namespace first). */
  joins: { type: string; path: string; flag: number }[];
  /** Namespaces the clone makes (CLONE_NEWUSER, CLONE_NEWPID). */
  cloneFlags?: number;
  /** Become root of the (new or joined) user namespace before execve. */
  becomeRoot?: boolean;
  /** A new PID namespace after the joins (of a joined user namespace): forkexec.ts RawSpawn. */
  newPidNamespace?: boolean;
  /** Namespaces unshared after the joins. */
  unshare?: number;
  /** Our fds that become the process's 4+preserve, 5+preserve, … (after the socket). */
  extraFds?: number[];
  /** Runs between the clone and the child's first step (the child waits for it), given its pid. */
  afterClone?: (pid: number) => void;
  /** For errors: where the process was to be started ("time namespace /proc/…/ns/time"). */
  where: string;
}

/**
 * `cmd` with `env`, its fds 0..2 and the preserved ones (3..3+preserve-1) as childStdio
 * describes them, a socket at 3 + preserve (the other end in stdio[3 + preserve]), `extraFds`
 * after it, a session of its own with a terminal; born in the namespaces `o` names.
 *
 * Everything is opened and computed first; the returned start() only forks, so that it can
 * run inside pidns.ts's window (where this thread must not grow the VM). Once start() has
 * run, or if it throws, nothing opened here is left open but what the process holds.
 */
export function prepareForkedSpawn(cmd: string[], o: ForkedSpawnOptions): () => SpawnedProcess {
  prepareFork();
  const nsFds: number[] = [];
  let r = -1, w = -1, devNull = -1;
  const closeAll = () => {
    for (const fd of [...nsFds, w, devNull]) if (fd >= 0) close(fd);
    nsFds.length = 0;
    w = devNull = -1;
  };
  let launch: ReturnType<typeof prepareSpawnRaw>;
  try {
    for (const j of o.joins) {
      try {
        nsFds.push(openat(AT_FDCWD, j.path, 0 /* O_RDONLY */ | O_CLOEXEC));
      } catch (e) {
        throw new RuntimeError(`cannot open ${j.type} namespace ${j.path}: ${(e as SyscallError).code ?? e}`);
      }
    }
    // Both ways, as Bun's extra "pipe" stdio is: create talks to its init over it.
    [r, w] = socketPair();
    if (o.terminal) devNull = openat(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
    const dup: [number, number][] = o.terminal ? [[devNull, 0], [devNull, 1], [devNull, 2]] : [];
    dup.push([w, 3 + o.preserve]);
    const extra = o.extraFds ?? [];
    extra.forEach((fd, i) => dup.push([fd, 4 + o.preserve + i]));
    launch = prepareSpawnRaw({
      path: cmd[0]!, argv: cmd, envp: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      setns: o.joins.map((_, i) => [nsFds[i]!, o.joins[i]!.flag]), dup, setsid: o.terminal,
      keepBelow: 4 + o.preserve + extra.length, cwd: o.cwd,
      inherit: [...(o.terminal ? [] : [0, 1, 2]), ...Array.from({ length: o.preserve }, (_, i) => 3 + i)],
      cloneFlags: o.cloneFlags, hold: Boolean(o.afterClone), becomeRoot: o.becomeRoot, newPidNamespace: o.newPidNamespace, unshare: o.unshare,
    });
  } catch (e) {
    closeAll();
    if (r >= 0) close(r);
    throw e;
  }
  const names = Object.fromEntries(Object.entries(constants.signals).map(([k, v]) => [v, k]));
  return () => {
    let child: { pid: number; pidfd: number };
    try {
      child = launch(o.afterClone);
    } catch (e) {
      close(r);
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`cannot start a process in ${o.where}: ${(e as Error).message}`, 255);
    } finally {
      closeAll();
    }
    let timer: ReturnType<typeof setInterval> | undefined;
    const proc: SpawnedProcess = {
      pid: child.pid,
      exitCode: null,
      signalCode: null,
      stdio: Object.assign([] as unknown[], { [3 + o.preserve]: r }),
      exited: undefined as unknown as Promise<number>,
      unref: () => timer?.unref(),
    };
    // The pidfd is polled: the child is ours to reap, and a blocking wait would stall what the
    // caller does meanwhile (forwarding signals, talking to the process over its socket).
    proc.exited = new Promise<number>((resolve, reject) => {
      timer = setInterval(() => {
        let st: ReturnType<typeof waitPidfd>;
        try {
          st = waitPidfd(child.pidfd, true);
        } catch (e) {
          clearInterval(timer);
          close(child.pidfd);
          reject(e);
          return;
        }
        if (!st) return;
        clearInterval(timer);
        close(child.pidfd);
        proc.exitCode = st.code;
        proc.signalCode = st.signal === null ? null : (names[st.signal] ?? null);
        resolve(st.code ?? 128 + (st.signal ?? 0));
      }, 10);
    });
    return proc;
  };
}
