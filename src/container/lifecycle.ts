// The owner of a container's life: its states, which moves between them are allowed, and
// every write of a state. (The ideas of runc's libcontainer state machine and youki's
// can_start/can_kill/can_delete.) Nothing else assigns `state.status`: the watcher, stop/kill
// and rm call the record* functions here, and every reader asks observe() what a record
// means now.
//
//   created ──start──▶ running ──exit──▶ exited ──start──▶ running …
//                       │  ▲                 
//                 pause │  │ unpause           restarting: between the exit and the next
//                       ▼  │                   start of a restart (policy or `restart`)
//                      paused
//   any state ──rm──▶ removing (the directory is renamed to a tombstone: gone for everyone)
//   dead: a record that cannot be read (truncated, empty, wrong shape); it can only be removed
//
// "running" is recorded before init is released (so a dead watcher never leaves a live
// container marked created), and observed as "created" until init has exec'd the command; a
// start that fails before the command runs goes back to what it was (created, or exited for
// a container that ran before).
import type { ContainerState, ContainerStore } from "./state.ts";
import { updateState } from "./locks.ts";
import { containerProc, isAlive, isPreExecInit, watcherProc } from "./proc.ts";
import { nowRfc3339Nano } from "./logs.ts";

export type Status = "created" | "running" | "paused" | "restarting" | "exited" | "removing" | "dead";

export const STATUSES: readonly Status[] = ["created", "running", "paused", "restarting", "exited", "removing", "dead"];

/** The allowed moves. Anything not listed is refused (the record is left as it is). */
export const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  created: ["running", "removing"],
  // created/exited: the start failed before the command ran (back to the state before it)
  running: ["exited", "paused", "restarting", "removing", "created"],
  paused: ["running", "exited", "removing"],
  restarting: ["running", "exited", "removing"],
  exited: ["running", "restarting", "removing"],
  removing: [],
  dead: ["removing"],
};

export function canTransition(from: Status, to: Status): boolean {
  return TRANSITIONS[from].includes(to);
}

/** What the exit-code-unknown case says (Docker says as much when its daemon died). */
export const WATCHER_LOST =
  "the container's watcher was lost while the container ran: its exit code is unknown";

/**
 * What a record means now, whatever it last said: a recorded "running" whose process is gone
 * (its watcher died first, the PID was reused, the host rebooted) has exited, with an
 * unknown code (255 where a number is required, and `exitUnknown`).
 */
export function observe(st: ContainerState): ContainerState["state"] {
  const s = st.state;
  // Restarting is the watcher's wait between an exit and the next start: without it (killed,
  // rebooted) nothing will start the container again, and the last exit is what stands.
  if (s.status === "restarting" && !isAlive(watcherProc(st))) {
    return { ...s, status: "exited", pid: 0, error: s.error || RESTART_LOST };
  }
  if (s.status !== "running" && s.status !== "paused") return s;
  if (!isAlive(containerProc(st))) {
    // Its watcher (alive) is recording the exit, or the restart the policy asks for: until it
    // has, the record stands, as Docker's does until containerd reports the exit. Reading it
    // as exited here would show a restarting container as stopped for a moment. (A watcher
    // that cannot write the record keeps the exit in the exit file, which load() reads; one
    // stopped by a signal keeps the container "running" until it goes on or rm -f removes it.)
    if (isAlive(watcherProc(st))) return s;
    const finished = s.finishedAt && s.startedAt && s.finishedAt >= s.startedAt ? s.finishedAt : s.startedAt;
    return { ...s, status: "exited", pid: 0, exitCode: 255, exitUnknown: true, error: s.error || WATCHER_LOST, finishedAt: finished };
  }
  // Recorded before init is released, but the command does not run until init has exec'd
  // it: until then the container is created (a kill now is a failed start, not an exit).
  if (s.status === "running" && isPreExecInit(s.pid)) return { ...s, status: "created" };
  // Frozen is paused, whatever the record says (a `pause` killed between freezing and
  // recording), and thawed is running.
  if (st.cgroupPaths) {
    const frozen = cgroupFrozen(st.cgroupPaths);
    if (frozen === true && s.status === "running") return { ...s, status: "paused" };
    if (frozen === false && s.status === "paused") return { ...s, status: "running" };
  }
  return s;
}

/** The freezer's state of a container's cgroup; undefined when there is no freezer to ask. */
function cgroupFrozen(p: NonNullable<ContainerState["cgroupPaths"]>): boolean | undefined {
  const { readFileSync } = require("node:fs") as typeof import("node:fs");
  try {
    if (p.version === "v2") return p.path ? readFileSync(`${p.path}/cgroup.freeze`, "utf8").trim() === "1" : undefined;
    const d = p.paths?.freezer;
    return d ? readFileSync(`${d}/freezer.state`, "utf8").trim() !== "THAWED" : undefined;
  } catch {
    return undefined;
  }
}

/** What a restarting container whose watcher is gone says (its restart policy stopped acting). */
export const RESTART_LOST = "the container's watcher was lost while it waited to restart the container";

/** The container's process runs (recorded and verified). */
export function isRunning(st: ContainerState): boolean {
  const s = observe(st).status;
  return s === "running" || s === "paused";
}

export function canStart(st: ContainerState): boolean {
  return canTransition(observe(st).status, "running");
}
export function canKill(st: ContainerState): boolean {
  return isRunning(st);
}
/**
 * rm without -f: anything but a live process (a starting one included) or one about to
 * restart; rm -f: anything.
 */
export function canDelete(st: ContainerState, force: boolean): boolean {
  if (force) return true;
  const s = observe(st).status;
  return s !== "running" && s !== "paused" && s !== "restarting" && !(s === "created" && isAlive(containerProc(st)));
}

// ---- writes ----

/** The state of a container just created (its first record). */
export function createdState(): ContainerState["state"] {
  return { status: "created", pid: 0, exitCode: 0, oomKilled: false };
}

/**
 * Move the container to `to` under its lock, if the table allows it and `guard` agrees;
 * `fields` are merged into the state. Returns the state before the move, or undefined when
 * nothing was written (container gone, move not allowed, guard said no).
 */
function transition(
  store: ContainerStore,
  id: string,
  to: Status,
  fields: (s: ContainerState) => Partial<ContainerState["state"]>,
  guard: (s: ContainerState) => boolean = () => true,
  observed = false,
): ContainerState["state"] | undefined {
  let before: ContainerState["state"] | undefined;
  let rec: ContainerState | undefined;
  updateState(store, id, (s) => {
    before = move(s, to, fields, guard, observed);
    if (before) rec = s;
    return before ? undefined : false;
  });
  if (before && rec) announce(store, rec, before.status, to);
  return before;
}

/** The event journal's line for a move (start, die, pause, unpause). */
function announce(store: ContainerStore, s: ContainerState, from: Status, to: Status): void {
  const action =
    // A policy restart is a die, then a start (as Docker's restart manager reports it).
    to === "running" ? (from === "paused" ? "unpause" : "start") : to === "exited" || to === "restarting" ? "die" : to === "paused" ? "pause" : undefined;
  if (!action) return;
  const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
  const attributes: Record<string, string> = { image: s.image, name: s.name };
  if (action === "die") attributes.exitCode = String(s.state.exitCode);
  recordEvent(store.dir.replace(/\/containers$/, ""), { Type: "container", Action: action, id: s.id, attributes });
}

/** The move itself, on a record loaded under the lock (the caller saves). */
function move(
  s: ContainerState,
  to: Status,
  fields: (s: ContainerState) => Partial<ContainerState["state"]>,
  guard: (s: ContainerState) => boolean = () => true,
  observed = false,
): ContainerState["state"] | undefined {
  // A start moves from what the record means now (a stale "running" after a reboot is
  // exited); an exit or a failed start is the record of what the watcher just saw happen
  // to the recorded process, so it moves from the recorded state.
  const from = observed ? observe(s).status : s.state.status;
  if (!canTransition(from, to) || !guard(s)) return undefined;
  const before = { ...s.state };
  s.state = { ...s.state, ...fields(s), status: to };
  return before;
}

export interface Started {
  pid: number;
  pidStart?: string;
  bootId: string;
  watcherPid: number;
  watcherStart?: string;
  /** A start by the restart policy (keeps the restart count); else a start the user asked for. */
  byPolicy?: boolean;
}

/** The watcher is about to release init: record it running. The previous state, or undefined (removed meanwhile). */
export function recordRunning(store: ContainerStore, id: string, { byPolicy, ...p }: Started): ContainerState["state"] | undefined {
  return transition(store, id, "running", (s) => ({
    ...p,
    // As Docker: a start the user asks for resets the count and forgets a manual stop.
    restartCount: byPolicy ? (s.state.restartCount ?? 0) : 0,
    manuallyStopped: undefined,
    exitCode: 0,
    error: undefined,
    exitUnknown: undefined,
    startedAt: nowRfc3339Nano(),
    finishedAt: s.state.finishedAt,
    oomKilled: false,
  }), (s) => !byPolicy || (s.state.status === "restarting" && s.state.watcherPid === p.watcherPid), true);
}

/** The start failed before the command ran: back to what it was, with the reason. */
export function recordStartFailed(
  store: ContainerStore,
  id: string,
  pid: number,
  prev: ContainerState["state"],
  failure: { exitCode: number; message: string },
): void {
  const to: Status = prev.startedAt ? "exited" : "created";
  transition(
    store,
    id,
    to,
    () => ({
      ...prev,
      pid: 0,
      pidStart: undefined,
      exitCode: failure.exitCode,
      error: failure.message,
      finishedAt: prev.startedAt ? nowRfc3339Nano() : prev.finishedAt,
      watcherPid: undefined,
      watcherStart: undefined,
    }),
    (s) => s.state.pid === pid,
  );
}

export interface Exit {
  /** The pid that exited: a record that names another (restarted meanwhile) is left alone. */
  pid: number;
  exitCode: number;
  oomKilled?: boolean;
  finishedAt?: string;
}

/** Apply an exit to a state (also used by the store for an exit kept in the pre-allocated file). */
export function exitedState(s: ContainerState["state"], e: Exit): ContainerState["state"] {
  return {
    ...s,
    status: "exited",
    pid: 0,
    pidStart: undefined,
    exitCode: e.exitCode,
    exitUnknown: undefined,
    error: undefined,
    finishedAt: e.finishedAt ?? nowRfc3339Nano(),
    oomKilled: Boolean(e.oomKilled),
    watcherPid: undefined,
    watcherStart: undefined,
  };
}

/**
 * Record an exit the watcher saw, or (when the watcher is gone) one that stop/kill caused.
 * Returns true when written. Throws what the write throws (ENOSPC: the watcher retries).
 */
export function recordExit(store: ContainerStore, id: string, e: Exit, onlyIfDead = false): boolean {
  const before = transition(
    store,
    id,
    "exited",
    (s) => exitedState(s.state, e),
    (s) => s.state.pid === e.pid && (!onlyIfDead || !isAlive(containerProc(s))),
  );
  return before !== undefined;
}

/** recordExit for a caller that holds the container lock and has loaded `s`: saves it. */
export function recordExitLocked(store: ContainerStore, s: ContainerState, e: Exit): boolean {
  const before = move(s, "exited", (x) => exitedState(x.state, e), (x) => x.state.pid === e.pid);
  if (!before) return false;
  store.save(s);
  announce(store, s, before.status, "exited");
  return true;
}

/** `pause` froze the container's cgroup: record it paused. False when it is no longer the recorded process. */
export function recordPaused(store: ContainerStore, id: string, pid: number): boolean {
  return transition(store, id, "paused", () => ({}), (s) => s.state.pid === pid) !== undefined;
}

/** `unpause` thawed the container's cgroup: record it running again. */
export function recordUnpaused(store: ContainerStore, id: string, pid: number): boolean {
  return transition(store, id, "running", () => ({}), (s) => s.state.pid === pid) !== undefined;
}

// ---- restart policies (container/restart-policy.ts decides; these write) ----

/**
 * The exit of a container whose policy restarts it, for a caller holding the lock: restarting,
 * no process, the exit code kept for `ps` ("Restarting (1) 2 seconds ago"), the restart counted,
 * and the watcher still named (it is the one that will start it; observe() turns a
 * restarting record whose watcher is gone into exited).
 */
export function recordRestartingLocked(store: ContainerStore, s: ContainerState, e: Exit): boolean {
  const moved = move(
    s,
    "restarting",
    (x) => ({
      ...exitedState(x.state, e),
      watcherPid: x.state.watcherPid,
      watcherStart: x.state.watcherStart,
      restartCount: (x.state.restartCount ?? 0) + 1,
    }),
    (x) => x.state.pid === e.pid,
  );
  if (!moved) return false;
  s.state.status = "restarting";
  store.save(s);
  announce(store, s, moved.status, "restarting");
  return true;
}

/**
 * `stop` (or a kill): the policy must not bring the container back. Marked before the signal
 * so the watcher, recording the exit, sees it; a container waiting to restart is exited now.
 * True when it was restarting (nothing left to signal).
 */
export function recordManualStop(store: ContainerStore, id: string): boolean {
  let wasRestarting = false;
  updateState(store, id, (s) => {
    if (s.broken) return false;
    s.state.manuallyStopped = true;
    if (s.state.status === "restarting") {
      wasRestarting = true;
      s.state = { ...s.state, status: "exited", watcherPid: undefined, watcherStart: undefined };
    }
  });
  return wasRestarting;
}
