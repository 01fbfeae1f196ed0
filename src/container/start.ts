// Starting a container's process: a new PID namespace for the init we spawn, the handshake
// over fd 3, signal forwarding, and recording how it ended.
import { readSync, closeSync } from "node:fs";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { processStartTime } from "./state.ts";
import { initSpecFor, writeInitSpec } from "./create.ts";
import { INIT_ENV } from "./init.ts";
import { selfCommand } from "./self.ts";
import { unshare, CLONE_NEWPID } from "../linux/libc.ts";
import { trace } from "../util/trace.ts";
import { UserError, statusFromExit, signalNumber, EXIT_ENGINE } from "../util/errors.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

let pidNamespaceUsed = false;

export interface StartedProcess {
  pid: number;
  /** Resolves with the container's exit status (Docker numbering). */
  exited: Promise<number>;
}

export interface StdioChoice {
  stdin: "inherit" | "ignore" | number;
  stdout: "inherit" | "ignore" | number;
  stderr: "inherit" | "ignore" | number;
}

/**
 * Spawn the container init and return once the user's command has been exec'd (or throw the
 * init's error). The caller's process must not have spawned into a PID namespace before.
 */
export async function spawnContainer(engine: Engine, st: ContainerState, stdio: StdioChoice): Promise<{ proc: ReturnType<typeof Bun.spawn>; statusFd: number }> {
  const spec = initSpecFor(engine, st);
  const specPath = writeInitSpec(engine, st, spec);
  // CLONE_NEWPID applies to children created afterwards: the init becomes PID 1 there.
  if (pidNamespaceUsed) throw new Error("internal: one container start per process");
  unshare(CLONE_NEWPID);
  trace("spawn init");
  pidNamespaceUsed = true;
  const proc = Bun.spawn(selfCommand("_init"), {
    env: { [INIT_ENV]: specPath, PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...(process.env.MINID_TRACE ? { MINID_TRACE: process.env.MINID_TRACE } : {}) },
    stdio: [stdio.stdin, stdio.stdout, stdio.stderr, "pipe"] as any,
    // Without a tty the container gets its own session: signals reach it only through us.
    detached: !st.config.tty,
  });
  return { proc, statusFd: proc.stdio[3] as unknown as number };
}

interface InitStatus {
  message: string;
  exitCode: number;
}

function readInitStatus(fd: number): InitStatus | undefined {
  const buf = Buffer.alloc(65536);
  let n = 0;
  try {
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r <= 0) break;
      n += r;
    }
  } catch {
    // EAGAIN/ECONNRESET: nothing more to read
  }
  try {
    closeSync(fd);
  } catch {}
  if (!n) return undefined;
  try {
    return JSON.parse(buf.subarray(0, n).toString("utf8"));
  } catch {
    return { message: buf.subarray(0, n).toString("utf8"), exitCode: EXIT_ENGINE };
  }
}

/**
 * Run a created container in the foreground: stdio attached, signals forwarded, exit status
 * recorded. Returns the status `minid run` exits with.
 */
export async function runAttached(engine: Engine, st: ContainerState): Promise<number> {
  const { proc, statusFd } = await spawnContainer(engine, st, {
    stdin: st.config.interactive ? "inherit" : "ignore",
    stdout: "inherit",
    stderr: "inherit",
  });
  const startedAt = new Date().toISOString();
  engine.containers.update(st.id, (s) => {
    s.state = { ...s.state, status: "running", pid: proc.pid, pidStart: processStartTime(proc.pid), startedAt };
  });
  const handlers = FORWARDED.map((sig) => {
    const h = () => {
      // With a tty the terminal already signalled the container's process group.
      if (st.config.tty && (sig === "SIGINT" || sig === "SIGQUIT" || sig === "SIGWINCH")) return;
      try {
        process.kill(proc.pid, signalNumber(sig)!);
      } catch {}
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  const code = await proc.exited;
  trace("container exited");
  for (const [sig, h] of handlers) process.off(sig, h);
  const status = statusFromExit(code, proc.signalCode ?? null);
  const initError = readInitStatus(statusFd);
  engine.containers.update(st.id, (s) => {
    s.state = {
      ...s.state,
      status: "exited",
      pid: 0,
      pidStart: undefined,
      exitCode: initError ? initError.exitCode : status,
      finishedAt: new Date().toISOString(),
      error: initError?.message,
    };
  });
  if (initError) throw new UserError(`failed to start container: ${initError.message}`, initError.exitCode);
  return status;
}
