// Stopping, killing and waiting for containers, from any CLI process. Signals go to the
// container's init (PID 1 inside) through a verified pidfd; the exit is recorded by the
// container's watcher, and recorded here only when the watcher itself is gone.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { containerProc, isAlive, signalProc, waitGone, watcherProc } from "./proc.ts";
import { settledState, isRunning, liveState } from "./status.ts";
import { watcherRunning, waitWatcherGone } from "./locks.ts";
import { recordExit, recordManualStop } from "./lifecycle.ts";
import { thawForKill } from "./pause.ts";
import { UserError, signalNumber } from "../util/errors.ts";
import { log } from "../util/log.ts";

const SIGKILL = 9;
const SIGTERM = 15;
const SIGUSR1 = 10;
export const DEFAULT_STOP_TIMEOUT = 10;

/** Names and id prefixes on the command line → containers; Docker's per-target error handling. */
export async function eachContainer(
  engine: Engine,
  names: string[],
  command: string,
  fn: (st: ContainerState, ref: string) => Promise<void> | void,
): Promise<number> {
  if (!names.length) throw new UserError(`"minid ${command}" requires at least 1 argument.\nSee 'minid ${command} --help'.`);
  let failed = 0;
  for (const n of names) {
    try {
      await fn(engine.containers.find(n), n);
    } catch (e) {
      failed++;
      log.error(e instanceof Error ? e.message : String(e));
    }
  }
  return failed ? 1 : 0;
}

/** The signal `stop` sends: --stop-signal at create, else the image's StopSignal, else SIGTERM. */
export function stopSignalOf(engine: Engine, st: ContainerState): number {
  const own = st.extra?.stopSignal;
  if (typeof own === "string" && signalNumber(own)) return signalNumber(own)!;
  try {
    const img = engine.images.getImage(st.imageId);
    const sig = img && (engine.images.getConfig(img).config as { StopSignal?: string } | undefined)?.StopSignal;
    if (sig && signalNumber(sig)) return signalNumber(sig)!;
  } catch {
    // the image may be gone: fall back to the default
  }
  return SIGTERM;
}

export function stopTimeoutOf(st: ContainerState): number {
  const t = st.extra?.stopTimeout;
  return typeof t === "number" ? t : DEFAULT_STOP_TIMEOUT;
}

/**
 * Docker's stop: the stop signal, then SIGKILL after `timeoutSec` (negative: wait forever).
 * Returns once the exit is recorded. A container that is not running is left as it is.
 */
export async function stopContainer(engine: Engine, st: ContainerState, timeoutSec?: number, signal?: number): Promise<void> {
  const first = settledState(engine, st);
  if (endRestarts(engine, first)) return;
  // Read again: a restart may have started the command since `first` was read.
  const cur = await untilCommandRuns(engine, first.restartPolicy ? (engine.containers.load(st.id) ?? first) : first);
  if (!isRunning(cur)) return;
  const ref = containerProc(cur);
  const sig = signal ?? stopSignalOf(engine, cur);
  const timeout = timeoutSec ?? stopTimeoutOf(cur);
  signalProc(ref, sig);
  announce(engine, cur, "kill", { signal: String(sig) });
  let killed = sig === SIGKILL;
  if (!(await waitGone(ref, timeout < 0 ? Infinity : timeout * 1000))) {
    signalProc(ref, SIGKILL);
    thawForKill(cur);
    killed = true;
    if (!(await waitGone(ref, 10_000))) throw new UserError(`cannot stop container ${cur.name}: it did not exit after SIGKILL`);
  }
  await recordExitIfUnwatched(engine, cur, killed ? 128 + SIGKILL : 128 + sig);
  announce(engine, cur, "stop");
}

function announce(engine: Engine, st: ContainerState, action: string, extra: Record<string, string> = {}): void {
  const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
  recordEvent(engine.root, { Type: "container", Action: action, id: st.id, attributes: { image: st.image, name: st.name, ...extra } });
}

/**
 * A container caught while its init still builds it (a start, or a restart by its policy, under
 * way) is about to run its command: wait for that (a few ms), so the signal reaches the
 * command rather than an init that ignores it.
 */
async function untilCommandRuns(engine: Engine, st: ContainerState): Promise<ContainerState> {
  let cur = st;
  for (let waited = 0; waited < 5000; waited += 5) {
    if (cur.state.status !== "running" || liveState(cur).status !== "created" || !isAlive(containerProc(cur))) return cur;
    await Bun.sleep(5);
    cur = engine.containers.load(st.id) ?? cur;
  }
  return cur;
}

/**
 * A manual stop: mark it (the watcher then records the coming exit as final, and unless-stopped
 * remembers it), and when the container is only waiting to restart, end the wait (its watcher
 * is woken to go). True when nothing is left to signal.
 */
function endRestarts(engine: Engine, st: ContainerState): boolean {
  if (!st.restartPolicy || st.restartPolicy.name === "no" || st.broken) return false;
  if (!recordManualStop(engine.containers, st.id)) return false;
  signalProc(watcherProc(st), SIGUSR1);
  return true;
}

/** Docker's kill: one signal (default SIGKILL); an error when the container is not running. */
export async function killContainer(engine: Engine, st: ContainerState, sig: number): Promise<void> {
  const cur = await untilCommandRuns(engine, settledState(engine, st));
  // As Docker's: a kill with SIGKILL or the stop signal ends the restart policy too.
  if ((sig === SIGKILL || sig === stopSignalOf(engine, cur)) && (isRunning(cur) || liveState(cur).status === "restarting") && endRestarts(engine, cur)) return;
  if (!isRunning(cur) || !signalProc(containerProc(cur), sig)) {
    throw new UserError(`cannot kill container: ${cur.name}: container ${cur.id} is not running`);
  }
  announce(engine, cur, "kill", { signal: String(sig) });
  if (sig === SIGKILL) {
    thawForKill(cur);
    await waitGone(containerProc(cur), 10_000);
    await recordExitIfUnwatched(engine, cur, 128 + SIGKILL);
  }
}

/**
 * Wait until the watcher has recorded the exit. If there is no watcher (it was killed), record
 * the exit ourselves with the best code we know.
 */
async function recordExitIfUnwatched(engine: Engine, st: ContainerState, guess: number): Promise<void> {
  // The code is known here: it is the signal we sent (a restart meanwhile names another pid).
  if (await waitWatcherGone(engine.containers, st.id, 5000)) {
    recordExit(engine.containers, st.id, { pid: st.state.pid, exitCode: guess }, true);
  }
}

/** Block until the container is not running; its exit code. */
async function exitFromWatcher(engine: Engine, id: string): Promise<number | undefined> {
  const { AttachConnection } = await import("./attach.ts");
  try {
    const conn = await AttachConnection.connect(engine.containers.containerDir(id), { output: false });
    conn.hello({ stdin: false });
    await conn.closed;
    return conn.exit?.exitCode;
  } catch {
    return undefined;
  }
}

export async function waitContainer(engine: Engine, st: ContainerState): Promise<number> {
  // While a watcher runs, listen to it: it announces the exit code even when --rm then
  // removes the container (and its record) before a poll could read it.
  if (isRunning(st) && watcherRunning(engine.containers, st.id)) {
    const code = await exitFromWatcher(engine, st.id);
    if (code !== undefined) {
      // The watcher tells the code before it writes the record: return once the record says
      // so too (as Docker's wait does), so a `start` right after never finds it "running".
      for (let delay = 2, waited = 0; waited < 5000; waited += delay, delay = Math.min(delay * 2, 50)) {
        const cur = engine.containers.load(st.id);
        if (!cur || (cur.state.status !== "running" && cur.state.status !== "paused") || !watcherRunning(engine.containers, st.id)) break;
        await Bun.sleep(delay);
      }
      return code;
    }
  }
  let delay = 5;
  for (;;) {
    const cur = engine.containers.load(st.id);
    if (!cur) throw new UserError(`No such container: ${st.id}`);
    const ref = containerProc(cur);
    if (isAlive(ref)) {
      await waitGone(ref, 1000);
      continue;
    }
    const recorded = cur.state.status === "running" || cur.state.status === "paused";
    if (recorded && watcherRunning(engine.containers, cur.id)) {
      // exited a moment ago: the watcher is writing the record
      await Bun.sleep(delay);
      delay = Math.min(delay * 2, 50);
      continue;
    }
    return liveState(cur).exitCode;
  }
}
