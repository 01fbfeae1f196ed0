// The cgroup v2 device allow-list: cgroup v2 has no devices.allow file; access to device nodes
// is decided by an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (what
// runc and crun install for Docker and Podman). The program here is built from the same rules
// as v1's devices.allow ("c 1:3 rwm", "b *:* m", "a"): default deny, the first matching rule
// allows. The kernel calls it with struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 |
// type); u32 major; u32 minor; } and allows the access when it returns 1.
import { ptr } from "bun:ffi";
import { closeSync, openSync, constants } from "node:fs";
import { SyscallError, bpf } from "./libc.ts";

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;

const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };

export interface DeviceRule {
  /** undefined: any type ("a"). */
  type?: "c" | "b";
  major?: number;
  minor?: number;
  /** Bits of ACC. */
  access: number;
}

/** "c 1:3 rwm" / "b *:* m" / "a" → a rule; throws on anything else. */
export function parseDeviceRule(s: string): DeviceRule {
  const t = s.trim();
  if (t === "a" || t === "a *:* rwm") return { access: 7 };
  const m = /^([cba]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/.exec(t);
  if (!m) throw new Error(`invalid device rule '${s}'`);
  const num = (v: string) => (v === "*" ? undefined : Number(v));
  return {
    type: m[1] === "a" ? undefined : (m[1] as "c" | "b"),
    major: num(m[2]!),
    minor: num(m[3]!),
    access: [...m[4]!].reduce((a, c) => a | ACC[c]!, 0),
  };
}

// BPF instruction encoding: u8 code, u8 (src << 4 | dst), s16 off, s32 imm.
function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  return [code, (src << 4) | dst, off, imm];
}
const LDX_W = 0x61; // r_dst = *(u32 *)(r_src + off)
const MOV32_X = 0xbc;
const AND32_K = 0x54;
const RSH32_K = 0x74;
const MOV64_K = 0xb7;
const JNE_K = 0x55;
const EXIT = 0x95;

/** The program's instructions for `rules` (default deny). */
export function deviceFilterProgram(rules: DeviceRule[]): Buffer {
  const prog: number[][] = [
    insn(LDX_W, 2, 1, 0, 0), // r2 = access_type
    insn(MOV32_X, 3, 2, 0, 0),
    insn(AND32_K, 3, 0, 0, 0xffff), // r3 = device type
    insn(MOV32_X, 4, 2, 0, 0),
    insn(RSH32_K, 4, 0, 0, 16), // r4 = access asked for
    insn(LDX_W, 5, 1, 4, 0), // r5 = major
    insn(LDX_W, 6, 1, 8, 0), // r6 = minor
  ];
  for (const r of rules) {
    // Each test jumps past the rest of this rule's block when it does not match.
    const tests: [number, number, number | undefined][] = [];
    if (r.type) tests.push([3, r.type === "b" ? DEV_BLOCK : DEV_CHAR, undefined]);
    if ((r.access & 7) !== 7) tests.push([7, 0, 7 & ~r.access]); // r7 = r4 & ~allowed, must be 0
    if (r.major !== undefined) tests.push([5, r.major, undefined]);
    if (r.minor !== undefined) tests.push([6, r.minor, undefined]);
    const block: number[][] = [];
    const size = tests.reduce((n, t) => n + (t[2] !== undefined ? 3 : 1), 0) + 2;
    for (const [reg, value, mask] of tests) {
      if (mask !== undefined) {
        block.push(insn(MOV32_X, 7, 4, 0, 0), insn(AND32_K, 7, 0, 0, mask));
      }
      // Jump over what is left of the block: the remaining tests and the allow.
      block.push(insn(JNE_K, reg, 0, 0, value));
    }
    block.push(insn(MOV64_K, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0));
    for (let i = 0; i < block.length; i++) if (block[i]![0] === JNE_K) block[i]![2] = size - i - 1;
    prog.push(...block);
  }
  prog.push(insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0));
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, regs, off, imm], i) => {
    b.writeUInt8(code!, i * 8);
    b.writeUInt8(regs!, i * 8 + 1);
    b.writeInt16LE(off!, i * 8 + 2);
    b.writeInt32LE(imm! | 0, i * 8 + 4);
  });
  return b;
}

/** Load the program for `rules` and attach it to the cgroup v2 directory `dir` (it stays with the cgroup). */
export function attachDeviceFilter(dir: string, rules: string[]): void {
  const code = deviceFilterProgram(rules.map(parseDeviceRule));
  const license = Buffer.from("Apache\0");
  const log = Buffer.alloc(16384);
  const load = Buffer.alloc(128);
  load.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  load.writeUInt32LE(code.length / 8, 4);
  load.writeBigUInt64LE(BigInt(ptr(code)), 8);
  load.writeBigUInt64LE(BigInt(ptr(license)), 16);
  load.writeUInt32LE(1, 24); // log_level: the verifier says why, should it refuse
  load.writeUInt32LE(log.length, 28);
  load.writeBigUInt64LE(BigInt(ptr(log)), 32);
  load.write("minid_devices", 48, "latin1");
  let progFd: number;
  try {
    progFd = bpf(BPF_PROG_LOAD, load, "bpf(BPF_PROG_LOAD)", dir);
  } catch (e) {
    const why = log.toString("latin1", 0, Math.max(0, log.indexOf(0))).trim().split("\n").slice(-1)[0];
    if (e instanceof SyscallError && why) throw new SyscallError(`bpf(BPF_PROG_LOAD) (${why})`, e.errno, dir);
    throw e;
  }
  let cg: number | undefined;
  try {
    cg = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    const attach = Buffer.alloc(32);
    attach.writeUInt32LE(cg, 0);
    attach.writeUInt32LE(progFd, 4);
    attach.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    bpf(BPF_PROG_ATTACH, attach, "bpf(BPF_PROG_ATTACH)", dir);
  } finally {
    if (cg !== undefined) closeSync(cg);
    closeSync(progFd);
  }
  void [code, license, log];
}
