// config.json's process.scheduler, process.ioPriority and process.execCPUAffinity: checked
// at create (a bad value fails create, naming the field), applied by the thread that execs
// the command. Each of the three calls acts on the calling thread when given pid 0, and a
// thread keeps them across execve: in a multithreaded Bun process that is exactly the
// container's process and nothing else.
import { ptr } from "bun:ffi";
import { syscallChecked } from "../linux/libc.ts";
import { RuntimeError } from "./errors.ts";

const NR_SCHED_SETAFFINITY = 203, NR_IOPRIO_SET = 251, NR_SCHED_SETATTR = 314;

const POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
/** cpu_set_t as glibc sizes it: 1024 CPUs. */
const CPU_SET_BYTES = 128;

export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}
export interface IoPriority {
  class: string;
  priority?: number;
}
export interface CpuAffinity {
  initial?: string;
  final?: string;
}

/** The three fields of config.json's process (config.ts imports this file: no type import back). */
type Process = { scheduler?: unknown; ioPriority?: unknown; execCPUAffinity?: unknown };

const bad = (field: string, why: string) => new RuntimeError(`config.json: process.${field} ${why}`);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

/** struct sched_attr (SCHED_ATTR_SIZE_VER0, 48 bytes) for sched_setattr(2). */
export function schedAttr(s: Scheduler): Buffer {
  if (!s || typeof s !== "object" || !(s.policy in POLICIES)) {
    throw bad("scheduler.policy", `must be one of ${Object.keys(POLICIES).join(", ")} (got ${JSON.stringify(s?.policy)})`);
  }
  const policy = POLICIES[s.policy]!;
  let flags = 0;
  for (const f of s.flags ?? []) {
    if (!(f in SCHED_FLAGS)) throw bad("scheduler.flags", `has an unknown flag ${JSON.stringify(f)}`);
    // The clamps need sched_attr's util_min/util_max, which the spec has no fields for.
    if (f.startsWith("SCHED_FLAG_UTIL_CLAMP")) throw bad("scheduler.flags", `${f} is not supported: the spec gives no clamp values`);
    flags |= SCHED_FLAGS[f]!;
  }
  const nice = s.nice ?? 0;
  if (!isInt(nice) || nice < -20 || nice > 19) throw bad("scheduler.nice", `must be an integer from -20 to 19 (got ${JSON.stringify(s.nice)})`);
  const priority = s.priority ?? 0;
  const realtime = policy === 1 || policy === 2;
  if (!isInt(priority) || priority < 0 || priority > 99) throw bad("scheduler.priority", `must be an integer from 0 to 99 (got ${JSON.stringify(s.priority)})`);
  if (realtime && priority < 1) throw bad("scheduler.priority", `must be 1 to 99 for ${s.policy}`);
  if (!realtime && priority !== 0) throw bad("scheduler.priority", `must be 0 for ${s.policy} (only SCHED_FIFO and SCHED_RR have priorities)`);
  const [runtime, deadline, period] = [s.runtime ?? 0, s.deadline ?? 0, s.period ?? 0];
  for (const [k, v] of [["runtime", runtime], ["deadline", deadline], ["period", period]] as const) {
    if (!isInt(v) || v < 0) throw bad(`scheduler.${k}`, `must be a non-negative integer of nanoseconds (got ${JSON.stringify(v)})`);
  }
  if (policy === 6) {
    if (!runtime || !deadline) throw bad("scheduler", "SCHED_DEADLINE needs runtime and deadline");
    // A period of 0 means "the deadline", as the kernel takes it.
    if (!(runtime <= deadline && deadline <= (period || deadline))) throw bad("scheduler", "SCHED_DEADLINE needs runtime <= deadline <= period");
  }
  const b = Buffer.alloc(48);
  b.writeUInt32LE(48, 0);
  b.writeUInt32LE(policy, 4);
  b.writeBigUInt64LE(BigInt(flags), 8);
  b.writeInt32LE(nice, 16);
  b.writeUInt32LE(priority, 20);
  b.writeBigUInt64LE(BigInt(runtime), 24);
  b.writeBigUInt64LE(BigInt(deadline), 32);
  b.writeBigUInt64LE(BigInt(period), 40);
  return b;
}

/** The ioprio value ioprio_set(2) takes: class in the top bits, level 0–7 below. */
export function ioprioValue(io: IoPriority): number {
  if (!io || typeof io !== "object" || !(io.class in IO_CLASSES)) {
    throw bad("ioPriority.class", `must be one of ${Object.keys(IO_CLASSES).join(", ")} (got ${JSON.stringify(io?.class)})`);
  }
  const level = io.priority ?? 0;
  if (!isInt(level) || level < 0 || level > 7) throw bad("ioPriority.priority", `must be an integer from 0 to 7 (got ${JSON.stringify(io.priority)})`);
  return (IO_CLASSES[io.class]! << 13) | level;
}

/** A CPU list ("0-3,7") as a cpu_set_t. */
export function cpuMask(list: string, field: string): Buffer {
  const mask = Buffer.alloc(CPU_SET_BYTES);
  const parts = typeof list === "string" ? list.split(",").map((p) => p.trim()) : [];
  if (!parts.length || parts.some((p) => !/^\d+(-\d+)?$/.test(p))) throw bad(field, `must be a CPU list such as "0-3,7" (got ${JSON.stringify(list)})`);
  for (const p of parts) {
    const [a, z = a] = p.split("-").map(Number) as [number, number?];
    if (z! < a) throw bad(field, `has a descending range ${JSON.stringify(p)}`);
    if (z! >= CPU_SET_BYTES * 8) throw bad(field, `names CPU ${z}, above the ${CPU_SET_BYTES * 8} a CPU set holds`);
    for (let c = a; c <= z!; c++) mask[c >> 3]! |= 1 << (c & 7);
  }
  return mask;
}

/** create's check of the three fields (nothing applied). */
export function checkScheduling(p: Process): void {
  if (p.scheduler) schedAttr(p.scheduler as Scheduler);
  if (p.ioPriority) ioprioValue(p.ioPriority as IoPriority);
  const a = p.execCPUAffinity as CpuAffinity | undefined;
  if (a?.initial !== undefined) cpuMask(a.initial, "execCPUAffinity.initial");
  if (a?.final !== undefined) cpuMask(a.final, "execCPUAffinity.final");
}

function setAffinity(list: string, field: string): void {
  const mask = cpuMask(list, field);
  try {
    syscallChecked("sched_setaffinity", NR_SCHED_SETAFFINITY, 0, CPU_SET_BYTES, BigInt(ptr(mask)));
  } catch (e) {
    throw new RuntimeError(`cannot set process.${field} ${JSON.stringify(list)}: ${(e as Error).message} (CPUs outside the container's cpuset or offline?)`);
  }
}

/** execCPUAffinity.initial: the CPUs init runs on before it joins the container's cgroup. */
export function applyInitialAffinity(p: Process): void {
  const a = p.execCPUAffinity as CpuAffinity | undefined;
  if (a?.initial !== undefined) setAffinity(a.initial, "execCPUAffinity.initial");
}

/**
 * The scheduler, the I/O priority and execCPUAffinity.final, on the thread that execs the
 * command, while it still holds the capabilities a real-time class needs.
 */
export function applyScheduling(p: Process): void {
  if (p.scheduler) {
    const attr = schedAttr(p.scheduler as Scheduler);
    try {
      syscallChecked("sched_setattr", NR_SCHED_SETATTR, 0, BigInt(ptr(attr)), 0);
    } catch (e) {
      throw new RuntimeError(`cannot set process.scheduler (${(p.scheduler as Scheduler).policy}): ${(e as Error).message}`);
    }
  }
  if (p.ioPriority) {
    try {
      syscallChecked("ioprio_set", NR_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS */, 0, ioprioValue(p.ioPriority as IoPriority));
    } catch (e) {
      throw new RuntimeError(`cannot set process.ioPriority: ${(e as Error).message}`);
    }
  }
  const a = p.execCPUAffinity as CpuAffinity | undefined;
  if (a?.final !== undefined) setAffinity(a.final, "execCPUAffinity.final");
}
