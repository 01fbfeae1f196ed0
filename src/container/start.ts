// The host-side order of a container's start, for run, start, attach and restart: pre-start
// the watcher, create, launch (write the init spec, hand the container to its watcher and wait
// until it reports that the user's command runs, or why not), attach, map how the attached
// session ended to an exit code, and remove what a failed run created. Command files parse
// flags and call one function here.
// With `attach`, the watcher waits for this CLI to connect to the container's attach socket
// before it starts anything, so not a byte of output is missed.
import { O_CLOEXEC } from "../linux/libc.ts";
import { closeSync, openSync, constants } from "node:fs";
import { join, resolve } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { initSpecFor, writeInitSpec } from "./create.ts";
import { spawnWatcher, type Watcher, type WatcherRequest } from "./watcher.ts";
import { AttachConnection, DEFAULT_DETACH_KEYS, parseDetachKeys, runSession, terminalSize, type SessionEnd } from "./attach.ts";
import { bootId, containerProc, type ProcRef } from "./proc.ts";
import { isRunning, observe } from "./lifecycle.ts";
import { waitWatcherGone } from "./locks.ts";
import type { CreateOptions } from "./create.ts";
import { UserError, EXIT_ENGINE } from "../util/errors.ts";

export interface Launched {
  /** The container's init as the host sees it (start time included). */
  proc: ProcRef;
  /** The attach connection, when the start was attached. */
  conn?: AttachConnection;
}

type WatcherReport = { listening?: true; started?: true; pid?: number; start?: string; error?: string; exitCode?: number };

/**
 * Start a created or exited container. With `attach`, the returned connection already
 * receives the container's output (written to our stdout/stderr as it arrives).
 */
export async function launchContainer(
  engine: Engine,
  st: ContainerState,
  opts: { attach: boolean; stdin?: boolean; size?: { cols: number; rows: number } },
  watcher?: Watcher,
): Promise<Launched> {
  const dir = engine.containers.containerDir(st.id);
  if (st.broken) throw new UserError(`container ${st.id} has an unreadable record (${st.broken}): remove it with minid rm -f ${st.id.slice(0, 12)}`);
  // The watcher of the last run records the exit first and then drops the cgroup and the
  // network under the same lock; a start that read "exited" in between would write into a
  // cgroup about to vanish. That watcher holds watcher.lock until it exits: wait for it.
  if (!watcher) await waitWatcherGone(engine.containers, st.id, 5000);
  // Which network namespace init takes (network/attach.ts); none without a network record.
  const net = st.network ? (require("../network/attach.ts") as typeof import("../network/attach.ts")).networkSpecFor(engine, st) : {};
  writeInitSpec(engine, st, initSpecFor(engine, st, net));
  const req: WatcherRequest = {
    root: resolve(engine.root),
    id: st.id,
    attach: opts.attach,
    cols: opts.size?.cols,
    rows: opts.size?.rows,
  };
  let w: Watcher;
  if (watcher) {
    w = watcher;
    watcher.send(req);
  } else {
    const watcherLog = openSync(join(dir, "watcher.log"), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | O_CLOEXEC, 0o640);
    try {
      w = spawnWatcher(JSON.stringify(req), watcherLog);
    } finally {
      closeSync(watcherLog);
    }
  }
  const reports = w.reports;
  const lost = () =>
    new UserError(`the container's watcher exited before starting it (see ${join(dir, "watcher.log")})`, EXIT_ENGINE);
  try {
    let conn: AttachConnection | undefined;
    let msg = reports.next<WatcherReport>();
    if (msg?.listening) {
      conn = await AttachConnection.connect(dir);
      conn.hello({ stdin: Boolean(opts.stdin), ...opts.size });
      msg = reports.next<WatcherReport>();
    }
    if (!msg) {
      conn?.close();
      throw lost();
    }
    if (msg.error !== undefined) {
      conn?.close();
      throw new UserError(startError(msg.error), msg.exitCode ?? EXIT_ENGINE);
    }
    return { proc: { pid: msg.pid!, start: msg.start, bootId: bootId() }, conn };
  } finally {
    reports.close();
  }
}

function startError(message: string): string {
  if (/already running|being removed|marked for removal|No such container/.test(message)) return message;
  return `failed to start container: ${message}`;
}

// ---- the orders of run, start, attach and restart ----

export interface SessionFlags {
  /** --detach-keys (default ctrl-p,ctrl-q). */
  detachKeys?: string;
  /** --sig-proxy=false turns proxying off (it is off anyway with a terminal, as in Docker). */
  sigProxy?: boolean;
}

/** Docker's CLI refuses -it without a terminal before asking the daemon anything: exit 1. */
export function notATty(): UserError {
  return new UserError("the input device is not a TTY", 1);
}

/**
 * `run`: the watcher starts first (its start-up overlaps the creation), then create, launch
 * and, unless detached, the attached session. A run whose command never started leaves
 * nothing behind. Returns the container's id and the exit code to end with.
 */
export async function runContainer(
  engine: Engine,
  create: CreateOptions,
  o: SessionFlags & { detach: boolean; createOnly?: boolean; created?: (id: string) => void },
): Promise<{ id: string; exitCode: number }> {
  const { tty } = create;
  // Started by cli.ts before the CLI loaded (early-run.ts), with a guessed terminal mode that
  // the request below corrects; started here when the CLI was entered some other way.
  const early = (await import("./early-run.ts")).takeEarlyWatcher();
  if (o.createOnly) {
    // `create`: registered and prepared, Created until `start`.
    early?.cancel();
    const { createContainer } = await import("./create.ts");
    const id = (await createContainer(engine, create)).id;
    o.created?.(id);
    return { id, exitCode: 0 };
  }
  // -a/--attach STDIN|STDOUT|STDERR: only those streams (stdin only when named, with -i).
  const attachTo = create.service?.attach?.map((s) => s.toLowerCase());
  if (attachTo?.length && o.detach) {
    early?.cancel();
    // Docker's CLI exits 1 here (not 125).
    throw new UserError("Conflicting options: -a and -d", 1);
  }
  const interactive = create.interactive && (!attachTo?.length || attachTo.includes("stdin"));
  // Only -it needs our stdin to be a terminal; -t alone gets the container its own pty.
  if (tty && interactive && !o.detach && !process.stdin.isTTY) {
    early?.cancel();
    throw notATty();
  }
  const size = tty ? terminalSize() : undefined;
  const { prestartWatcher } = await import("./watcher.ts");
  const mode = create.network?.network ?? "bridge";
  const watcher = early ?? prestartWatcher({ tty, interactive, ...size }, mode !== "none" && mode !== "host" && !mode.startsWith("container:"));
  let st: ContainerState;
  let launched: Launched;
  try {
    const detachKeys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
    const { createContainer } = await import("./create.ts");
    // Kept for inspect's AttachStdout/AttachStderr (false for -d, as Docker records them).
    st = await createContainer(engine, o.detach ? { ...create, extra: { ...create.extra, detached: true } } : create);
    try {
      o.created?.(st.id);
      launched = await launchContainer(engine, st, { attach: !o.detach, stdin: interactive && !o.detach, size }, watcher);
    } catch (e) {
      const { removeContainer } = await import("./remove.ts");
      removeContainer(engine, st.id, { force: true, volumes: true });
      throw e;
    }
    if (o.detach) return { id: st.id, exitCode: 0 };
    if (attachTo?.length) launched.conn!.streams = { stdout: attachTo.includes("stdout"), stderr: attachTo.includes("stderr") };
    const end = await runSession(launched.conn!, {
      tty,
      raw: tty && interactive,
      stdin: interactive,
      detachKeys,
      proxyTo: o.sigProxy === false || tty ? undefined : launched.proc,
    });
    return { id: st.id, exitCode: sessionExitCode(engine, st, end) };
  } catch (e) {
    watcher.cancel();
    throw e;
  }
}

/** `start` without -a: start it unless it runs. */
export async function startContainer(engine: Engine, st: ContainerState): Promise<void> {
  // A container waiting to restart is its watcher's to start.
  if (!isRunning(st) && observe(st).status !== "restarting") await launchContainer(engine, st, { attach: false });
}

/** `start -a [-i]`: start one container and stay attached; its exit code. */
export async function startAttached(engine: Engine, st: ContainerState, o: SessionFlags & { interactive: boolean }): Promise<number> {
  const detachKeys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
  const stdin = o.interactive && st.config.interactive;
  const tty = st.config.tty;
  if (tty && stdin && !process.stdin.isTTY) throw notATty();
  if (isRunning(st)) throw new UserError(`container ${st.name} is already running: use 'minid attach'`);
  const size = tty ? terminalSize() : undefined;
  const launched = await launchContainer(engine, st, { attach: true, stdin, size });
  const end = await runSession(launched.conn!, { tty, raw: tty && stdin, stdin, detachKeys, proxyTo: tty ? undefined : launched.proc });
  return sessionExitCode(engine, st, end);
}

/** `attach`: join a running container's session; its exit code (0 when detached). */
export async function attachContainer(engine: Engine, st: ContainerState, o: SessionFlags & { noStdin: boolean }): Promise<number> {
  const detachKeys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
  if (!isRunning(st)) throw new UserError("You cannot attach to a stopped container, start it first");
  const stdin = !o.noStdin && st.config.interactive;
  const tty = st.config.tty;
  if (tty && stdin && !process.stdin.isTTY) throw notATty();
  const conn = await AttachConnection.connect(engine.containers.containerDir(st.id));
  const size = tty ? terminalSize() : undefined;
  conn.hello({ stdin, ...size });
  const end = await runSession(conn, {
    tty,
    raw: tty && stdin,
    stdin,
    detachKeys,
    proxyTo: o.sigProxy === false || tty ? undefined : containerProc(st),
  });
  return sessionExitCode(engine, st, end, true);
}

/** `restart`: stop (as `stop` does), then start detached. */
export async function restartContainer(engine: Engine, st: ContainerState, timeoutSec?: number, signal?: number): Promise<void> {
  const { stopContainer } = await import("./control.ts");
  await stopContainer(engine, st, timeoutSec, signal);
  const cur = engine.containers.load(st.id) ?? st;
  await launchContainer(engine, cur, { attach: false });
}

/**
 * How an attached session ended, as the exit code to end with: the container's code, 0 for
 * a detach. A watcher that went without a word is an engine failure, unless (`fromRecord`,
 * for attach to a container someone else started) the record has the exit by now.
 */
function sessionExitCode(engine: Engine, st: ContainerState, end: SessionEnd, fromRecord = false): number {
  if ("detached" in end) return 0;
  if ("lost" in end) {
    const cur = fromRecord ? engine.containers.load(st.id) : undefined;
    if (cur && !isRunning(cur)) return cur.state.exitCode;
    throw new UserError("lost the connection to the container's watcher", EXIT_ENGINE);
  }
  return end.exitCode;
}
