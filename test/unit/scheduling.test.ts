// config.json's process.scheduler, ioPriority and execCPUAffinity as the kernel takes them.
import { describe, expect, test } from "bun:test";
import { schedAttr, ioprioValue, cpuMask, checkScheduling } from "../../src/runtime/scheduling.ts";
import type { Process } from "../../src/runtime/config.ts";

describe("process.scheduler → struct sched_attr", () => {
  test("fields at their offsets, flags or'ed", () => {
    const b = schedAttr({ policy: "SCHED_DEADLINE", flags: ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"], runtime: 10_000, deadline: 20_000, period: 30_000 });
    expect(b.length).toBe(48);
    expect([b.readUInt32LE(0), b.readUInt32LE(4), Number(b.readBigUInt64LE(8))]).toEqual([48, 6, 0x05]);
    expect([Number(b.readBigUInt64LE(24)), Number(b.readBigUInt64LE(32)), Number(b.readBigUInt64LE(40))]).toEqual([10_000, 20_000, 30_000]);
    const o = schedAttr({ policy: "SCHED_OTHER", nice: -5 });
    expect([o.readUInt32LE(4), o.readInt32LE(16), o.readUInt32LE(20)]).toEqual([0, -5, 0]);
    expect(schedAttr({ policy: "SCHED_RR", priority: 42 }).readUInt32LE(20)).toBe(42);
  });

  test("bad values name the field", () => {
    expect(() => schedAttr({ policy: "SCHED_FAST" })).toThrow(/process\.scheduler\.policy must be one of SCHED_OTHER/);
    expect(() => schedAttr({ policy: "SCHED_OTHER", nice: 20 })).toThrow(/scheduler\.nice must be an integer from -20 to 19/);
    expect(() => schedAttr({ policy: "SCHED_FIFO" })).toThrow(/priority must be 1 to 99 for SCHED_FIFO/);
    expect(() => schedAttr({ policy: "SCHED_BATCH", priority: 3 })).toThrow(/priority must be 0 for SCHED_BATCH/);
    expect(() => schedAttr({ policy: "SCHED_OTHER", flags: ["SCHED_FLAG_TURBO"] })).toThrow(/unknown flag "SCHED_FLAG_TURBO"/);
    expect(() => schedAttr({ policy: "SCHED_DEADLINE" })).toThrow(/SCHED_DEADLINE needs runtime and deadline/);
    expect(() => schedAttr({ policy: "SCHED_DEADLINE", runtime: 10, period: 40 })).toThrow(/SCHED_DEADLINE needs runtime and deadline/);
    expect(() => schedAttr({ policy: "SCHED_DEADLINE", runtime: 10, deadline: 20 })).not.toThrow();
    expect(() => schedAttr({ policy: "SCHED_OTHER", flags: ["SCHED_FLAG_UTIL_CLAMP_MIN"] })).toThrow(/UTIL_CLAMP_MIN is not supported: the spec gives no clamp values/);
    expect(() => schedAttr({ policy: "SCHED_DEADLINE", runtime: 30, deadline: 20, period: 40 })).toThrow(/runtime <= deadline <= period/);
    expect(() => schedAttr({ policy: "SCHED_OTHER", runtime: -1 })).toThrow(/scheduler\.runtime must be a non-negative integer/);
  });
});

describe("process.ioPriority → ioprio", () => {
  test("class in bits 13 and up, level below", () => {
    expect(ioprioValue({ class: "IOPRIO_CLASS_RT", priority: 4 })).toBe((1 << 13) | 4);
    expect(ioprioValue({ class: "IOPRIO_CLASS_BE", priority: 7 })).toBe((2 << 13) | 7);
    expect(ioprioValue({ class: "IOPRIO_CLASS_IDLE" })).toBe(3 << 13);
    expect(() => ioprioValue({ class: "IOPRIO_CLASS_NONE" })).toThrow(/ioPriority\.class must be one of/);
    expect(() => ioprioValue({ class: "IOPRIO_CLASS_BE", priority: 8 })).toThrow(/ioPriority\.priority must be an integer from 0 to 7/);
  });
});

describe("process.execCPUAffinity → cpu_set_t", () => {
  test("lists and ranges set their bits", () => {
    const m = cpuMask("0-2, 9,1023", "execCPUAffinity.final");
    expect(m.length).toBe(128);
    expect([m[0], m[1], m[127]]).toEqual([0b111, 0b10, 0x80]);
    expect(m.subarray(2, 127).every((b) => b === 0)).toBe(true);
  });

  test("malformed lists are refused at create", () => {
    const p = (a: object) => ({ cwd: "/", user: { uid: 0, gid: 0 }, execCPUAffinity: a }) as Process;
    expect(() => checkScheduling(p({ initial: "" }))).toThrow(/execCPUAffinity\.initial must be a CPU list/);
    expect(() => checkScheduling(p({ final: "1-x" }))).toThrow(/execCPUAffinity\.final must be a CPU list/);
    expect(() => checkScheduling(p({ final: "3-1" }))).toThrow(/descending range "3-1"/);
    expect(() => checkScheduling(p({ final: "1024" }))).toThrow(/names CPU 1024, above the 1024/);
    expect(() => checkScheduling(p({ initial: "0", final: "0-1" }))).not.toThrow();
  });
});
