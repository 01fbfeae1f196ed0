// `minid top`: the host's ps, filtered to the container's processes (its cgroup's), as Docker's
// daemon does it: ps runs with the user's options (default -ef), the header names the columns,
// the PID column picks the rows, and the last column keeps its spaces.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { UserError } from "../util/errors.ts";
import { isRunning, settledState } from "./status.ts";

export interface ProcessList {
  Titles: string[];
  Processes: string[][];
}

export async function topContainer(engine: Engine, st0: ContainerState, psArgs: string[]): Promise<ProcessList> {
  const st = settledState(engine, st0);
  if (!isRunning(st) || !st.cgroupPaths) throw new UserError(`Container ${st.id} is not running`);
  const { loadCgroup } = await import("../linux/cgroups.ts");
  const pids = new Set(loadCgroup(st.cgroupPaths).procs());
  const args = psArgs.length ? psArgs : ["-ef"];
  let r: { exitCode: number | null; stdout: Buffer; stderr: Buffer };
  try {
    r = Bun.spawnSync(["ps", ...args], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" } }) as typeof r;
  } catch {
    throw new UserError("ps is not installed on this host (procps): minid top runs the host's ps");
  }
  if (r.exitCode !== 0) {
    throw new UserError(`Error running ps: ${r.stderr.toString().trim().split("\n")[0] || `exit status ${r.exitCode}`}`);
  }
  return parsePs(r.stdout.toString(), pids);
}

export function parsePs(text: string, pids: Set<number>): ProcessList {
  const lines = text.split("\n");
  const titles = (lines[0] ?? "").trim().split(/\s+/).filter(Boolean);
  const pidIndex = titles.indexOf("PID");
  if (pidIndex < 0) throw new UserError("Couldn't find PID field in ps output");
  const procs: string[][] = [];
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[pidIndex]);
    if (!Number.isInteger(pid)) throw new UserError(`Unexpected pid '${fields[pidIndex]}': not a number`);
    if (!pids.has(pid)) continue;
    procs.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(" ")]);
  }
  return { Titles: titles, Processes: procs };
}
