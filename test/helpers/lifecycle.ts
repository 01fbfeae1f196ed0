// The shared setup of the lifecycle feature files (detach, exec, stop-kill-start, rm-prune-inspect,
// state): one TestRoot per file with busybox imported before any timed test, and the helpers
// that read a container's state. Each file calls useLifecycleRoot() once at top level.
import { afterAll, beforeAll, expect } from "bun:test";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { TestRoot, ensureBuilt } from "./minid.ts";
import { have, requires } from "./requires.ts";

const T = 60_000;
/** A root-only test with the lifecycle files' default timeout. */
export const it = (name: string, fn: () => unknown, timeout = T) => requires("root")(name, fn, timeout);

export async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

export function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX] /.test(s);
  } catch {
    return false;
  }
}

/** Processes with an open fd, cwd or root under `dir` (a leak of ours would show here). */
export function processesHolding(dir: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const links = [readlinkSync(`/proc/${p}/cwd`), ...readdirSync(`/proc/${p}/fd`).map((f) => {
        try {
          return readlinkSync(`/proc/${p}/fd/${f}`);
        } catch {
          return "";
        }
      })];
      if (links.some((l) => l.startsWith(dir))) out.push(`${p} ${readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ")}`);
    } catch {}
  }
  return out;
}

/**
 * A TestRoot for this file (made at once, so tests can hold it; used only as root), busybox
 * imported in beforeAll, and in afterAll every container removed and no process left holding
 * the root. Returns the root and the state helpers bound to it.
 */
export function useLifecycleRoot(label: string) {
  const r = new TestRoot(label);
  beforeAll(() => {
    if (!have("root")) return;
    ensureBuilt();
    // Import the built-in image once, outside any timed test.
    expect(r.run(["run", "--rm", "busybox", "true"]).code).toBe(0);
  });
  afterAll(() => {
    if (!have("root")) return r.cleanup();
    const ids = r.run(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean);
    if (ids.length) r.run(["rm", "-f", ...ids]);
    const holders = processesHolding(r.dir);
    r.cleanup();
    if (holders.length) throw new Error(`processes left holding the test root: ${holders.join(", ")}`);
  });
  const state = (name: string): any => {
    const out = r.run(["inspect", name]);
    if (out.code !== 0) throw new Error(`inspect ${name}: ${out.stderr}`);
    return JSON.parse(out.stdout)[0];
  };
  const idOf = (name: string): string => r.run(["ps", "-aq", "--no-trunc", "-f", `name=^${name}$`]).stdout.trim();
  const stateFile = (name: string): string => join(r.dir, "containers", idOf(name), "state.json");
  const watcherPidOf = (name: string): number => JSON.parse(readFileSync(stateFile(name), "utf8")).state.watcherPid;
  return { r, state, idOf, stateFile, watcherPidOf };
}
