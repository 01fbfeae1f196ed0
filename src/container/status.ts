// What a container's state really is now, whatever the document last said: a recorded
// "running" whose PID is gone (or reused by another process) is reported as exited.
import type { ContainerState } from "./state.ts";
import { isProcessAlive } from "./state.ts";
import { ago, humanDuration } from "../cli/format.ts";

export function liveState(st: ContainerState): ContainerState["state"] {
  const s = st.state;
  if ((s.status === "running" || s.status === "paused") && !isProcessAlive(s.pid, s.pidStart)) {
    return { ...s, status: "exited", pid: 0, exitCode: s.exitCode || 255, finishedAt: s.finishedAt ?? s.startedAt };
  }
  return s;
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
