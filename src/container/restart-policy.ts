// Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`) with Docker's rules
// (its restartmanager): whether an exit restarts the container, and how long the watcher
// waits first. The watcher is the one that acts on them (it is the process that sees the exit);
// `minid system restore` asks the same question after a reboot, when no watcher survived.
import { UserError } from "../util/errors.ts";

export type RestartPolicyName = "no" | "always" | "on-failure" | "unless-stopped";

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure only: give up after this many restarts (0: never give up). */
  maximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { name: "no", maximumRetryCount: 0 };

/** The first delay, its growth and its cap, and how long a run must last to reset the delay. */
export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_AFTER_MS = 10_000;

/** `--restart` as Docker's CLI and daemon check it (their messages, as Docker 20.10 words them). */
export function parseRestartPolicy(v: string): RestartPolicy {
  if (v === "") return NO_RESTART;
  const i = v.indexOf(":");
  const name = i < 0 ? v : v.slice(0, i);
  const count = i < 0 ? undefined : v.slice(i + 1);
  if (i === 0) throw new UserError("invalid restart policy format: no policy provided before colon");
  if (!["no", "always", "on-failure", "unless-stopped"].includes(name)) {
    throw new UserError(`invalid restart policy '${name}' (use no, always, on-failure[:N] or unless-stopped)`);
  }
  let max = 0;
  if (count !== undefined) {
    if (!/^-?\d+$/.test(count)) throw new UserError("maximum retry count must be an integer");
    max = Number(count);
    if (name !== "on-failure") throw new UserError(`maximum retry count cannot be used with restart policy '${name}'`);
    if (max < 0) throw new UserError("maximum retry count cannot be negative");
  }
  return { name: name as RestartPolicyName, maximumRetryCount: max };
}

/**
 * Docker's ShouldRestart: does this exit restart the container? A manual stop (or kill) ends
 * every policy while the watcher lives; after a reboot (`afterReboot`, `system restore`) only
 * unless-stopped still remembers it, as Docker's daemon does when it comes back.
 */
export function shouldRestart(
  p: RestartPolicy | undefined,
  exitCode: number,
  manuallyStopped: boolean,
  restartCount: number,
  afterReboot = false,
): boolean {
  if (!p) return false;
  if (manuallyStopped && !(afterReboot && p.name === "always")) return false;
  switch (p.name) {
    case "always":
    case "unless-stopped":
      return true;
    case "on-failure":
      return exitCode !== 0 && (p.maximumRetryCount === 0 || restartCount < p.maximumRetryCount);
    default:
      return false;
  }
}

/**
 * The next delay: 100 ms, doubled at each restart up to a minute, back to 100 ms after a run
 * that lasted 10 s (`previous` 0: none yet).
 */
export function nextBackoff(previousMs: number, ranMs: number): number {
  const prev = ranMs >= BACKOFF_RESET_AFTER_MS ? 0 : previousMs;
  return prev === 0 ? BACKOFF_START_MS : Math.min(prev * 2, BACKOFF_MAX_MS);
}

/** As `--restart` is written back (inspect's HostConfig.RestartPolicy keeps the parts). */
export function policyString(p: RestartPolicy | undefined): string {
  if (!p || p.name === "no") return "no";
  return p.name === "on-failure" && p.maximumRetryCount ? `on-failure:${p.maximumRetryCount}` : p.name;
}
