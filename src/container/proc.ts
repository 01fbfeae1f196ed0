// Process identity. A PID alone names nothing for long: PIDs are reused, and a host reboot
// starts numbering again. Every process minid records (a container's init, its watcher)
// carries the start time from /proc/PID/stat and the kernel boot id, and every signal goes
// through a pidfd opened and then verified, so a reused PID is never signalled.
import { readFileSync } from "node:fs";
import type { ContainerState } from "./state.ts";

let cachedBootId: string | undefined;

/** This boot's id (/proc/sys/kernel/random/boot_id). */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}

export interface ProcRef {
  pid: number;
  start?: string;
  bootId?: string;
}

/** True when `p` is still the very process that was recorded (and not a zombie). */
export function isAlive(p: ProcRef | undefined): boolean {
  if (!p || !p.pid) return false;
  if (p.bootId && p.bootId !== bootId()) return false;
  return isProcessAlive(p.pid, p.start);
}

export function procRef(pid: number): ProcRef {
  return { pid, start: processStartTime(pid), bootId: bootId() };
}

export function containerProc(st: ContainerState): ProcRef | undefined {
  const s = st.state;
  return s.pid ? { pid: s.pid, start: s.pidStart, bootId: s.bootId } : undefined;
}

export function watcherProc(st: ContainerState): ProcRef | undefined {
  const s = st.state;
  return s.watcherPid ? { pid: s.watcherPid, start: s.watcherStart, bootId: s.bootId } : undefined;
}

/**
 * Send `sig` to exactly the recorded process. Returns false when it is gone. The pidfd is
 * opened first and the start time checked after, so the signal cannot reach a newcomer.
 */
export function signalProc(p: ProcRef | undefined, sig: number): boolean {
  if (!p || !isAlive(p)) return false;
  const { pidfdOpen, pidfdSendSignal, close } = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  let fd: number;
  try {
    fd = pidfdOpen(p.pid);
  } catch {
    return false;
  }
  try {
    if (!isAlive(p)) return false;
    return pidfdSendSignal(fd, sig);
  } finally {
    close(fd);
  }
}

/** Wait until `p` has exited; false on timeout. */
export async function waitGone(p: ProcRef | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (isAlive(p)) {
    if (Date.now() >= deadline) return false;
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 25);
  }
  return true;
}

/** Field 22 of /proc/PID/stat: the process start time, stable for the life of the PID. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/** True when the process recorded in state still runs (same PID and same start time, not a zombie). */
export function isProcessAlive(pid: number, start: string | undefined): boolean {
  if (!pid) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return false;
  return start === undefined || fields[19] === start;
}

/**
 * True while `pid` is still minid's init, before it exec'd the container's command (its
 * argv is then ours: `minid _init`). As runc tells "created" from "running" by whether init
 * still waits at its exec fifo, this tells a container whose command does not run yet.
 */
export function isPreExecInit(pid: number): boolean {
  if (isReaperInit(pid)) return false;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  if (argv[argv.length - 1] === "") argv.pop();
  return argv.length >= 2 && argv.length <= 3 && argv[argv.length - 1] === "_init" && argv[0] === process.execPath;
}

/** True when `pid` is a container's init that now serves as its --init reaper (reaper.ts names it so). */
export function isReaperInit(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8") === "minid-init\n";
  } catch {
    return false;
  }
}
