// Starting one of the runtime's own processes (exec's, or create's init) inside a time
// namespace. setns(CLONE_NEWTIME) answers any thread of a multithreaded process EUSERS, and a
// Bun process always is one: so the process is forked (a single thread), enters the
// namespace, and execs minid, which then runs as Bun.spawn would have started it.
import { constants } from "node:os";
import { RuntimeError } from "./errors.ts";
import { AT_FDCWD, CLONE_NEWTIME, O_CLOEXEC, O_RDONLY, O_RDWR, SyscallError, close, openat, socketPair } from "../linux/libc.ts";
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

export interface TimeNsSpawnOptions {
  env: Record<string, string>;
  /** stdio as childStdio(terminal, preserve) arranges it: /dev/null with a terminal, ours otherwise. */
  terminal: boolean;
  preserve: number;
  cwd?: string;
}

/**
 * `cmd` with `env`, its fds 0..2 and the preserved ones (3..3+preserve-1) as childStdio
 * describes them, a socket at 3 + preserve (the other end in stdio[3 + preserve]), a session of
 * its own with a terminal; born in the time namespace at `nsPath`.
 *
 * Everything is opened and computed first; the returned start() only forks, so that it can
 * run inside pidns.ts's window (where this thread must not grow the VM). Once start() has
 * run, or if it throws, nothing opened here is left open but what the process holds.
 */
export function prepareTimeNamespaceSpawn(nsPath: string, cmd: string[], o: TimeNsSpawnOptions): () => SpawnedProcess {
  prepareFork();
  let ns = -1, r = -1, w = -1, devNull = -1;
  const closeAll = () => {
    for (const fd of [ns, w, devNull]) if (fd >= 0) close(fd);
    ns = w = devNull = -1;
  };
  let launch: () => { pid: number; pidfd: number };
  try {
    try {
      ns = openat(AT_FDCWD, nsPath, O_RDONLY | O_CLOEXEC);
    } catch (e) {
      throw new RuntimeError(`cannot open time namespace ${nsPath}: ${(e as SyscallError).code ?? e}`);
    }
    // Both ways, as Bun's extra "pipe" stdio is: create talks to its init over it.
    [r, w] = socketPair();
    if (o.terminal) devNull = openat(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
    const dup: [number, number][] = o.terminal ? [[devNull, 0], [devNull, 1], [devNull, 2]] : [];
    dup.push([w, 3 + o.preserve]);
    launch = prepareSpawnRaw({
      path: cmd[0]!, argv: cmd, envp: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      setns: [[ns, CLONE_NEWTIME]], dup, setsid: o.terminal, keepBelow: 4 + o.preserve, cwd: o.cwd,
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
      child = launch();
    } catch (e) {
      close(r);
      throw new RuntimeError(`cannot start a process in time namespace ${nsPath}: ${(e as Error).message}`, 255);
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
