// The OCI seccomp profile compiler (src/linux/seccomp-profile.ts), checked by running the
// BPF it emits through a classic-BPF interpreter on seccomp_data records: every comparison
// on 64-bit arguments (both halves), errnoRet, same-argument ORs, architectures, far jumps.
import { describe, expect, test } from "bun:test";
import { compileProfile, type Profile } from "../../src/linux/seccomp-profile.ts";
import { X86_64, I386 } from "../../src/linux/syscall-table.ts";

const ARCH_X86_64 = 0xc000003e;
const ARCH_I386 = 0x40000003;
const ALLOW = 0x7fff0000;
const errno = (n: number) => (0x00050000 | n) >>> 0;

/** Run a filter (struct sock_filter[]) on one syscall; returns the action word. */
function run(filter: Buffer, nr: number, args: bigint[] = [], arch = ARCH_X86_64): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + i * 8));
  let A = 0;
  let pc = 0;
  const n = filter.length / 8;
  for (let steps = 0; steps < 100_000; steps++) {
    if (pc >= n) throw new Error("fell off the program");
    const code = filter.readUInt16LE(pc * 8);
    const jt = filter.readUInt8(pc * 8 + 2);
    const jf = filter.readUInt8(pc * 8 + 3);
    const k = filter.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x20: A = data.readUInt32LE(k); break; // ld w abs
      case 0x54: A = (A & k) >>> 0; break; // and k
      case 0x05: pc += k; break; // ja
      case 0x15: pc += A === k ? jt : jf; break; // jeq
      case 0x25: pc += A > k ? jt : jf; break; // jgt
      case 0x35: pc += A >= k ? jt : jf; break; // jge
      case 0x45: pc += A & k ? jt : jf; break; // jset
      case 0x06: return k; // ret
      default: throw new Error(`unknown opcode ${code.toString(16)}`);
    }
  }
  throw new Error("loop");
}

const prof = (syscalls: Profile["syscalls"], extra: Partial<Profile> = {}): Buffer =>
  compileProfile({ defaultAction: "SCMP_ACT_ALLOW", syscalls, ...extra }).filter;

describe("seccomp profile compiler", () => {
  test("default action, per-syscall action, errnoRet, unknown names skipped", () => {
    const f = compileProfile({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 38,
      syscalls: [
        { names: ["read", "write", "no_such_syscall"], action: "SCMP_ACT_ALLOW" },
        { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["kill"], action: "SCMP_ACT_KILL_PROCESS" },
      ],
    }).filter;
    expect(run(f, X86_64.read!)).toBe(ALLOW);
    expect(run(f, X86_64.write!)).toBe(ALLOW);
    expect(run(f, X86_64.mkdir!)).toBe(errno(13));
    expect(run(f, X86_64.kill!)).toBe(0x80000000);
    expect(run(f, X86_64.open!)).toBe(errno(38));
  });

  test("every operator on 64-bit values, high word included", () => {
    const big = 0x1_0000_0005n;
    const cases: [string, number, bigint[], bigint[]][] = [
      // op, value, args that match, args that do not
      ["SCMP_CMP_EQ", 0x1_0000_0005, [big], [5n, 0x2_0000_0005n]],
      ["SCMP_CMP_NE", 0x1_0000_0005, [5n, 0x1_0000_0006n], [big]],
      ["SCMP_CMP_GT", 0x1_0000_0005, [0x1_0000_0006n, 0x2_0000_0000n], [big, 0xffff_ffffn]],
      ["SCMP_CMP_GE", 0x1_0000_0005, [big, 0x2_0000_0000n], [0x1_0000_0004n, 0xffff_ffffn]],
      ["SCMP_CMP_LT", 0x1_0000_0005, [0x1_0000_0004n, 0xffff_ffffn], [big, 0x2_0000_0000n]],
      ["SCMP_CMP_LE", 0x1_0000_0005, [big, 0n], [0x1_0000_0006n, 0x2_0000_0000n]],
    ];
    for (const [op, value, yes, no] of cases) {
      const f = prof([{ names: ["ioctl"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, value, op }] }]);
      for (const a of yes) expect([op, a, run(f, X86_64.ioctl!, [0n, a])]).toEqual([op, a, errno(1)]);
      for (const a of no) expect([op, a, run(f, X86_64.ioctl!, [0n, a])]).toEqual([op, a, ALLOW]);
    }
    const m = prof([{ names: ["chmod"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, value: 0o4000, valueTwo: 0o4000, op: "SCMP_CMP_MASKED_EQ" }] }]);
    expect(run(m, X86_64.chmod!, [0n, 0o4755n])).toBe(errno(1));
    expect(run(m, X86_64.chmod!, [0n, 0o755n])).toBe(ALLOW);
  });

  test("conditions of one entry are ANDed; on the same argument, ORed (runc's reading)", () => {
    const and = prof([{ names: ["socket"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 16, op: "SCMP_CMP_EQ" }, { index: 2, value: 9, op: "SCMP_CMP_EQ" }] }]);
    expect(run(and, X86_64.socket!, [16n, 0n, 9n])).toBe(errno(1));
    expect(run(and, X86_64.socket!, [16n, 0n, 0n])).toBe(ALLOW);
    const or = prof([{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }, { index: 0, value: 0x20000, op: "SCMP_CMP_EQ" }] }]);
    expect(run(or, X86_64.personality!, [8n])).toBe(errno(1));
    expect(run(or, X86_64.personality!, [0x20000n])).toBe(errno(1));
    expect(run(or, X86_64.personality!, [0n])).toBe(ALLOW);
  });

  test("conditional rules before an unconditional one for the same syscall", () => {
    const f = compileProfile({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
        { names: ["clone"], action: "SCMP_ACT_TRAP" },
      ],
    }).filter;
    expect(run(f, X86_64.clone!, [0x11n])).toBe(ALLOW);
    expect(run(f, X86_64.clone!, [0x20000n])).toBe(0x00030000);
  });

  test("architectures: i386 numbers in their own section, x32 refused unless listed, foreign arch killed", () => {
    const rules = [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 7 }];
    const native = prof(rules);
    expect(run(native, X86_64.getpid!)).toBe(errno(7));
    expect(run(native, X86_64.getpid! | 0x40000000)).toBe(0x80000000); // x32 not listed
    expect(run(native, I386.getpid!, [], ARCH_I386)).toBe(0x80000000); // i386 not listed
    const all = prof(rules, { architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] });
    expect(run(all, I386.getpid!, [], ARCH_I386)).toBe(errno(7));
    expect(run(all, X86_64.getpid! | 0x40000000)).toBe(errno(7));
    expect(run(all, X86_64.getpid!, [], 0xc00000b7 /* aarch64 */)).toBe(0x80000000);
  });

  test("a profile with hundreds of rules assembles (far jumps) and stays under the kernel's 4096", () => {
    const names = Object.keys(X86_64);
    const f = compileProfile({
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [
        { names: names.slice(0, 300), action: "SCMP_ACT_ALLOW" },
        ...names.slice(0, 40).map((n, i) => ({ names: [n], action: "SCMP_ACT_ERRNO", errnoRet: 100 + i, args: [{ index: 0, value: i, op: "SCMP_CMP_EQ" }] })),
      ],
    }).filter;
    expect(f.length / 8).toBeLessThan(4096);
    expect(run(f, X86_64[names[5]!]!, [5n])).toBe(errno(105));
    expect(run(f, X86_64[names[5]!]!, [6n])).toBe(ALLOW);
    expect(run(f, X86_64[names[299]!]!)).toBe(ALLOW);
    expect(run(f, X86_64[names[330]!]!)).toBe(errno(38)); // newer than any named: ENOSYS
  });

  test("calls newer than every one the profile names answer ENOSYS (runc's stub), so clone3 falls back", () => {
    const f = compileProfile({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", "statx"], action: "SCMP_ACT_ALLOW" }] }).filter;
    expect(run(f, X86_64.clone3!)).toBe(errno(38));
    expect(run(f, X86_64.membarrier!)).toBe(errno(1)); // older than statx: the default
    expect(run(f, X86_64.statx!)).toBe(ALLOW);
    const allow = prof([{ names: ["read"], action: "SCMP_ACT_ERRNO" }]);
    expect(run(allow, X86_64.clone3!)).toBe(ALLOW); // default allow: no stub
  });

  test("refuses unknown actions, operators and flags", () => {
    expect(() => compileProfile({ defaultAction: "SCMP_ACT_NOPE" })).toThrow(/unknown action/);
    expect(() => prof([{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_ALMOST" }] }])).toThrow(/unknown operator/);
    expect(() => compileProfile({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_NOPE"] })).toThrow(/unknown flag/);
  });
});
