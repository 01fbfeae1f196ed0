// What a container's state really is now, whatever the document last said: a recorded
// "running" whose PID is gone (or reused by another process) is reported as exited.
import type { ContainerState } from "./state.ts";
import type { Engine } from "../engine.ts";
import { containerProc, isAlive } from "./proc.ts";
import { ago, humanDuration } from "../cli/format.ts";

/**
 * The state as it is now. A recorded "running" whose process is gone (died with its watcher,
 * PID reused, host rebooted) is exited; when its exit was never recorded the code is 255.
 */
export function liveState(st: ContainerState): ContainerState["state"] {
  const s = st.state;
  if ((s.status === "running" || s.status === "paused") && !isAlive(containerProc(st))) {
    const finished = s.finishedAt && s.startedAt && s.finishedAt >= s.startedAt ? s.finishedAt : s.startedAt;
    return { ...s, status: "exited", pid: 0, exitCode: s.exitCode || 255, finishedAt: finished };
  }
  return s;
}

export function isRunning(st: ContainerState): boolean {
  const s = liveState(st).status;
  return s === "running" || s === "paused";
}

/**
 * Like liveState, but when the container has just exited and its watcher is still alive
 * (recording the exit), wait for the record (at most `waitMs`) so the real exit code shows.
 */
export function settledState(engine: Engine, st: ContainerState, waitMs = 2000): ContainerState {
  const s = st.state;
  if ((s.status !== "running" && s.status !== "paused") || isAlive(containerProc(st))) return st;
  const { shimRunning } = require("./locks.ts") as typeof import("./locks.ts");
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && shimRunning(engine.containers, st.id)) Bun.sleepSync(5);
  return engine.containers.load(st.id) ?? st;
}

/** Docker's STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created". */
export function statusText(st: ContainerState, now = Date.now()): string {
  const s = liveState(st);
  switch (s.status) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(s.startedAt ?? st.created))}`;
    case "paused":
      return `Up ${humanDuration(now - Date.parse(s.startedAt ?? st.created))} (Paused)`;
    case "exited":
      return `Exited (${s.exitCode}) ${ago(s.finishedAt, now)}`;
    case "removing":
      return "Removal In Progress";
    default:
      return "Created";
  }
}
