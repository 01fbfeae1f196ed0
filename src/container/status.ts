// How a container's state reads to a user: Docker's STATUS column, and the state after a
// watcher that is recording an exit has finished. What a record means is lifecycle.ts's
// answer (observe); this file only waits for it and words it.
import type { ContainerState } from "./state.ts";
import type { Engine } from "../engine.ts";
import { containerProc, isAlive } from "./proc.ts";
import { observe, isRunning } from "./lifecycle.ts";
import { ago, humanDuration } from "../util/duration.ts";

/** The state as it is now (lifecycle.ts's observe). */
export const liveState = observe;
export { isRunning };

/**
 * Like liveState, but when the container has just exited and its watcher is still alive
 * (recording the exit), wait for the record (at most `waitMs`) so the real exit code shows.
 */
export function settledState(engine: Engine, st: ContainerState, waitMs = 2000): ContainerState {
  const s = st.state;
  if ((s.status !== "running" && s.status !== "paused") || isAlive(containerProc(st))) return st;
  const { watcherRunning } = require("./locks.ts") as typeof import("./locks.ts");
  const deadline = Date.now() + waitMs;
  for (;;) {
    const cur = engine.containers.load(st.id) ?? st;
    // recorded (state.json, or the watcher's in-place exit file on a full disk)
    if (cur.state.status !== "running" && cur.state.status !== "paused") return cur;
    if (Date.now() >= deadline || !watcherRunning(engine.containers, st.id)) return cur;
    Bun.sleepSync(5);
  }
}

/** The health of a running container with a healthcheck ("starting" until its first result), else undefined. */
export function healthOf(st: ContainerState): "starting" | "healthy" | "unhealthy" | undefined {
  if (!st.healthcheck || observe(st).status !== "running") return undefined;
  const { readHealth } = require("./health.ts") as typeof import("./health.ts");
  const { recordDir } = require("./state.ts") as typeof import("./state.ts");
  const dir = recordDir(st);
  const h = dir ? readHealth(dir) : undefined;
  return (h?.Status as "starting" | "healthy" | "unhealthy" | undefined) ?? "starting";
}

/** Docker's STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created", "Dead". */
export function statusText(st: ContainerState, now = Date.now()): string {
  const s = observe(st);
  switch (s.status) {
    case "running": {
      const up = `Up ${humanDuration(now - Date.parse(s.startedAt ?? st.created))}`;
      const h = healthOf(st);
      return h ? `${up} (${h === "starting" ? "health: starting" : h})` : up;
    }
    case "paused":
      return `Up ${humanDuration(now - Date.parse(s.startedAt ?? st.created))} (Paused)`;
    case "restarting":
      return `Restarting (${s.exitCode}) ${ago(s.finishedAt, now)}`;
    case "exited":
      // A code nobody saw is not shown as the container's.
      return `Exited (${s.exitUnknown ? "unknown" : s.exitCode}) ${ago(s.finishedAt, now)}`;
    case "removing":
      return "Removal In Progress";
    case "dead":
      return `Dead (${s.error ?? "unreadable record"})`;
    default:
      return "Created";
  }
}
