// Starting a container's watcher (`minid _watcher`, see watcher-main.ts). Kept apart and light so that
// `run` can start the watcher first thing: its start-up then overlaps the creation of the
// container, which it is told about once it exists (over fd 3, like everything else).
import { selfCommand } from "./self.ts";
import { JsonLines } from "./fdio.ts";

/** What a watcher is told about its container (in WATCHER_ENV, or on fd 3 when pre-started). */
export interface WatcherRequest {
  root: string;
  id: string;
  /** Wait for the starting CLI to attach before starting the container (run without -d). */
  attach: boolean;
  cols?: number;
  rows?: number;
}

export const WATCHER_ENV = "MINID_WATCHER";
/** WATCHER_ENV value of a watcher started before its container exists. */
export const PRESTART = "-";

/** A watcher process and its report channel (fd 3 on its side). */
export interface Watcher {
  reports: JsonLines;
  send(req: WatcherRequest): void;
  /** Give up on a pre-started watcher: it exits on EOF. */
  cancel(): void;
}

export function spawnWatcher(envValue: string, stderr: number | "ignore", extra: Record<string, string> = {}): Watcher {
  const env: Record<string, string> = {
    ...extra,
    [WATCHER_ENV]: envValue,
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    // The watcher is I/O-bound: JSC's optimising JITs would only cost it memory.
    BUN_JSC_useDFGJIT: "false",
    BUN_JSC_useFTLJIT: "false",
  };
  for (const k of ["MINID_TRACE", "MINID_WATCHER_TRIM", "MINID_FIREWALL"]) if (process.env[k]) env[k] = process.env[k]!;
  const proc = Bun.spawn([...selfCommand("_watcher")], {
    env,
    stdio: ["ignore", "ignore", stderr, "pipe"] as any,
    detached: true,
  });
  proc.unref();
  const fd = proc.stdio[3] as unknown as number;
  const reports = new JsonLines(fd);
  return {
    reports,
    send(req) {
      const b = Buffer.from(JSON.stringify(req) + "\n");
      let off = 0;
      // node:fs on first use: the spawn above must not wait for it (see fdio.ts).
      const { writeSync } = require("node:fs") as typeof import("node:fs");
      while (off < b.length) off += writeSync(fd, b, off);
    },
    cancel: () => reports.close(),
  };
}

/** Start a watcher now, before its container exists; hand it to launchContainer, or cancel() it. */
export function prestartWatcher(mode: { tty: boolean; interactive: boolean; cols?: number; rows?: number }, bridged = false): Watcher {
  // Until it knows its container (and log), its errors have nowhere to go; with MINID_TRACE
  // its milestones go to our stderr. `bridged`: the container will be on a bridge network,
  // so the watcher prepares its network namespace while we create it (MINID_WATCHER_NET).
  return spawnWatcher(PRESTART, process.env.MINID_TRACE === "1" ? 2 : "ignore", {
    MINID_WATCHER_MODE: JSON.stringify(mode),
    ...(bridged ? { MINID_WATCHER_NET: "1" } : {}),
  });
}
