// A default seccomp filter, built as classic BPF in TypeScript and loaded with prctl. Like
// Docker's profile it refuses (EPERM) the system calls a container has no business making:
// kernel modules, kexec, reboot, swap, accounting, keyrings, bpf, perf, handle-based opens
// (the "shocker" escape), clock setting, and namespace/mount operations unless the container
// holds CAP_SYS_ADMIN. clone3 answers ENOSYS so libc falls back to clone, whose flags a
// classic filter can inspect. It is a deny list, not Docker's allow list: smaller, and
// honest about it.
// bun:ffi only for compileSeccomp: exec's entering thread loads the filter itself with raw calls.
import { ptr } from "bun:ffi";
import { realSyscalls } from "./libc.ts";
import type { Syscalls } from "./syscalls.ts";
import { capNumber } from "./capabilities.ts";

// BPF opcodes (linux/filter.h)
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const ENOSYS = 38;

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;

// struct seccomp_data: nr at 0, arch at 4, instruction_pointer at 8, args[6] at 16.
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LO = 16;

/** x86_64 syscall numbers, grouped by the capability that makes them legitimate. */
const DENY: Record<string, number[]> = {
  // always refused
  "": [
    134 /* uselib */, 136 /* ustat */, 139 /* sysfs */, 156 /* _sysctl */, 174 /* create_module */,
    177 /* get_kernel_syms */, 178 /* query_module */, 180 /* nfsservctl */, 212 /* lookup_dcookie */,
    250 /* keyctl */, 248 /* add_key */, 249 /* request_key */, 323 /* userfaultfd */,
    425 /* io_uring_setup */, 426 /* io_uring_enter */, 427 /* io_uring_register */,
  ],
  SYS_MODULE: [175 /* init_module */, 176 /* delete_module */, 313 /* finit_module */],
  SYS_BOOT: [169 /* reboot */, 246 /* kexec_load */, 320 /* kexec_file_load */],
  SYS_ADMIN: [
    165 /* mount */, 166 /* umount2 */, 155 /* pivot_root */, 272 /* unshare */, 308 /* setns */,
    167 /* swapon */, 168 /* swapoff */, 179 /* quotactl */, 321 /* bpf */, 298 /* perf_event_open */,
    300 /* fanotify_init */, 428 /* open_tree */, 429 /* move_mount */, 430 /* fsopen */, 431 /* fsconfig */,
    432 /* fsmount */, 433 /* fspick */, 442 /* mount_setattr */,
  ],
  SYS_PACCT: [163 /* acct */],
  SYS_TIME: [164 /* settimeofday */, 227 /* clock_settime */, 305 /* clock_adjtime */],
  SYS_RAWIO: [172 /* iopl */, 173 /* ioperm */],
  SYSLOG: [103 /* syslog */],
  DAC_READ_SEARCH: [304 /* open_by_handle_at */],
  SYS_NICE: [237 /* mbind */, 238 /* set_mempolicy */, 279 /* move_pages */],
};

const SYS_CLONE = 56;
const SYS_CLONE3 = 435;
// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
const CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

type Insn = [code: number, jt: number, jf: number, k: number];

/** The syscalls the default filter refuses a container holding `held`: a capability re-allows its own. */
function deniedFor(held: Set<number>): number[] {
  const out: number[] = [];
  for (const [cap, nrs] of Object.entries(DENY)) {
    if (cap && held.has(capNumber(cap))) continue;
    out.push(...nrs);
  }
  return out;
}

/** The filter program for a container holding `caps` (capability numbers). */
export function buildFilter(caps: number[]): Insn[] {
  const held = new Set(caps);
  const denied: number[] = deniedFor(held);
  const sysAdmin = held.has(capNumber("SYS_ADMIN"));
  const prog: Insn[] = [];
  const ret = (v: number): Insn => [BPF_RET_K, 0, 0, v >>> 0];
  // Wrong architecture (e.g. int 0x80 from 32-bit code): kill, never guess the numbering.
  prog.push([BPF_LD_W_ABS, 0, 0, OFF_ARCH]);
  prog.push([BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64]);
  prog.push(ret(SECCOMP_RET_KILL_PROCESS));
  prog.push([BPF_LD_W_ABS, 0, 0, OFF_NR]);
  prog.push([BPF_JGE_K, 0, 1, X32_SYSCALL_BIT]);
  prog.push(ret(SECCOMP_RET_ERRNO | EPERM));
  prog.push([BPF_JEQ_K, 0, 1, SYS_CLONE3]);
  prog.push(ret(SECCOMP_RET_ERRNO | ENOSYS));
  if (!sysAdmin) {
    // clone(flags, …): refuse namespace flags; reload nr afterwards for the list below.
    prog.push([BPF_JEQ_K, 0, 4, SYS_CLONE]);
    prog.push([BPF_LD_W_ABS, 0, 0, OFF_ARG0_LO]);
    prog.push([BPF_JSET_K, 0, 1, CLONE_NS_FLAGS]);
    prog.push(ret(SECCOMP_RET_ERRNO | EPERM));
    prog.push([BPF_LD_W_ABS, 0, 0, OFF_NR]);
  }
  for (const nr of denied) {
    prog.push([BPF_JEQ_K, 0, 1, nr]);
    prog.push(ret(SECCOMP_RET_ERRNO | EPERM));
  }
  prog.push(ret(SECCOMP_RET_ALLOW));
  return prog;
}

/** Encode as struct sock_filter[] (u16 code, u8 jt, u8 jf, u32 k). */
export function encodeFilter(prog: Insn[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    b.writeUInt16LE(code, i * 8);
    b.writeUInt8(jt, i * 8 + 2);
    b.writeUInt8(jf, i * 8 + 3);
    b.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return b;
}

/**
 * Install the filter on the calling thread (init calls execve from it right after, which
 * carries the filter into the container). Needs no_new_privs or CAP_SYS_ADMIN.
 */
export function installSeccomp(caps: number[], sys: Syscalls = realSyscalls): void {
  sys.seccompFilter(encodeFilter(buildFilter(caps)));
}

/** The filter as struct sock_fprog (`prog`) over its instructions (`filter`: keep it alive). */
export function compileSeccomp(caps: number[]): { prog: Buffer; filter: Buffer } {
  const filter = encodeFilter(buildFilter(caps));
  const prog = Buffer.alloc(16); // struct sock_fprog { u16 len; pad; struct sock_filter *filter }
  prog.writeUInt16LE(filter.length / 8, 0);
  prog.writeBigUInt64LE(BigInt(ptr(filter)), 8);
  return { prog, filter };
}

/**
 * The same deny list as a runtime-spec seccomp profile, for another OCI runtime to load
 * (`minid run --runtime`): default allow, the refused calls EPERM, clone with a namespace
 * flag EPERM (one rule per flag: a profile cannot say "any of these bits"), clone3 ENOSYS.
 */
export function denyListProfile(caps: number[]): object {
  const { X86_64 } = require("./syscall-table.ts") as typeof import("./syscall-table.ts");
  const names = new Map(Object.entries(X86_64).map(([n, nr]) => [nr, n]));
  const held = new Set(caps);
  const denied: string[] = deniedFor(held).map((nr) => names.get(nr)!);
  const syscalls: object[] = [{ names: denied, action: "SCMP_ACT_ERRNO", errnoRet: EPERM }, { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS }];
  if (!held.has(capNumber("SYS_ADMIN"))) {
    for (let bit = 0; bit < 32; bit++) {
      const f = (1 << bit) >>> 0;
      if (CLONE_NS_FLAGS & f) syscalls.push({ names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: [{ index: 0, value: f, valueTwo: f, op: "SCMP_CMP_MASKED_EQ" }] });
    }
  }
  return { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls };
}
