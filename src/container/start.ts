// Starting a container: write the init spec, start its watcher (`minid _shim`, detached, in its
// own session) and wait until the watcher reports that the user's command runs (or why not).
// With `attach`, the watcher waits for this CLI to connect to the container's attach socket
// before it starts anything, so not a byte of output is missed.
import { O_CLOEXEC } from "../linux/libc.ts";
import { closeSync, openSync, constants } from "node:fs";
import { join, resolve } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { initSpecFor, writeInitSpec } from "./create.ts";
import type { ShimRequest } from "./shim.ts";
import { spawnWatcher, type Watcher } from "./watcher.ts";
import { AttachConnection } from "./attach.ts";
import { bootId, type ProcRef } from "./proc.ts";
import { UserError, EXIT_ENGINE } from "../util/errors.ts";

export interface Launched {
  /** The container's init as the host sees it (start time included). */
  proc: ProcRef;
  /** The attach connection, when the start was attached. */
  conn?: AttachConnection;
}

type ShimReport = { listening?: true; started?: true; pid?: number; start?: string; error?: string; exitCode?: number };

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
  writeInitSpec(engine, st, initSpecFor(engine, st));
  const req: ShimRequest = {
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
    const shimLog = openSync(join(dir, "shim.log"), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | O_CLOEXEC, 0o640);
    try {
      w = spawnWatcher(JSON.stringify(req), shimLog);
    } finally {
      closeSync(shimLog);
    }
  }
  const reports = w.reports;
  const lost = () =>
    new UserError(`the container's watcher exited before starting it (see ${join(dir, "shim.log")})`, EXIT_ENGINE);
  try {
    let conn: AttachConnection | undefined;
    let msg = reports.next<ShimReport>();
    if (msg?.listening) {
      conn = await AttachConnection.connect(dir);
      conn.hello({ stdin: Boolean(opts.stdin), ...opts.size });
      msg = reports.next<ShimReport>();
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
