import { describe, expect, test } from "bun:test";
import { buildFilter, encodeFilter } from "../../src/linux/seccomp.ts";
import { capNumber, resolveCaps } from "../../src/linux/capabilities.ts";

/** A tiny classic-BPF interpreter over seccomp_data, enough for the filters minid builds. */
function evaluate(prog: ReturnType<typeof buildFilter>, nr: number, arch = 0xc000003e, arg0 = 0): number {
  const data = (off: number) => (off === 0 ? nr : off === 4 ? arch : off === 16 ? arg0 : 0);
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const [code, jt, jf, k] = prog[pc]!;
    if (code === 0x20) a = data(k);
    else if (code === 0x06) return k;
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x35) pc += a >>> 0 >= k ? jt : jf;
    else if (code === 0x45) pc += (a & k) !== 0 ? jt : jf;
    else throw new Error(`unknown opcode ${code}`);
  }
  throw new Error("fell off the end");
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const defaults = resolveCaps({});

/**
 * What the filter must refuse, written out independently of src/linux/seccomp.ts (x86_64
 * numbers from asm/unistd_64.h), grouped by the capability that makes a call legitimate.
 * Dropping a call from the source's table turns this test red.
 */
const EXPECTED_DENY: Record<string, Record<string, number>> = {
  "": {
    uselib: 134, ustat: 136, sysfs: 139, _sysctl: 156, create_module: 174, get_kernel_syms: 177,
    query_module: 178, nfsservctl: 180, lookup_dcookie: 212, add_key: 248, request_key: 249, keyctl: 250,
    userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
  },
  SYS_MODULE: { init_module: 175, delete_module: 176, finit_module: 313 },
  SYS_BOOT: { reboot: 169, kexec_load: 246, kexec_file_load: 320 },
  SYS_ADMIN: {
    pivot_root: 155, mount: 165, umount2: 166, swapon: 167, swapoff: 168, quotactl: 179, unshare: 272,
    perf_event_open: 298, fanotify_init: 300, setns: 308, bpf: 321, open_tree: 428, move_mount: 429,
    fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
  },
  SYS_PACCT: { acct: 163 },
  SYS_TIME: { settimeofday: 164, clock_settime: 227, clock_adjtime: 305 },
  SYS_RAWIO: { iopl: 172, ioperm: 173 },
  SYSLOG: { syslog: 103 },
  DAC_READ_SEARCH: { open_by_handle_at: 304 },
  SYS_NICE: { mbind: 237, set_mempolicy: 238, move_pages: 279 },
};

describe("seccomp filter", () => {
  test("ordinary calls pass, dangerous ones get EPERM", () => {
    const p = buildFilter(defaults);
    expect(evaluate(p, 0 /* read */)).toBe(ALLOW);
    expect(evaluate(p, 59 /* execve */)).toBe(ALLOW);
    expect(evaluate(p, 246 /* kexec_load */)).toBe(EPERM);
    expect(evaluate(p, 304 /* open_by_handle_at */)).toBe(EPERM);
    expect(evaluate(p, 272 /* unshare */)).toBe(EPERM);
    expect(evaluate(p, 165 /* mount */)).toBe(EPERM);
  });
  test("clone3 answers ENOSYS; clone with namespace flags EPERM, without them allowed", () => {
    const p = buildFilter(defaults);
    expect(evaluate(p, 435)).toBe(ENOSYS);
    expect(evaluate(p, 56, undefined, 0x11 /* SIGCHLD */)).toBe(ALLOW);
    expect(evaluate(p, 56, undefined, 0x10000000 /* CLONE_NEWUSER */)).toBe(EPERM);
  });
  test("capabilities open their calls", () => {
    const p = buildFilter(resolveCaps({ add: ["SYS_ADMIN", "SYS_TIME"] }));
    expect(evaluate(p, 165 /* mount */)).toBe(ALLOW);
    expect(evaluate(p, 56, undefined, 0x10000000)).toBe(ALLOW);
    expect(evaluate(p, 227 /* clock_settime */)).toBe(ALLOW);
    expect(evaluate(p, 246 /* kexec_load */)).toBe(EPERM);
  });
  test("foreign architectures are killed, x32 numbers refused", () => {
    const p = buildFilter(defaults);
    expect(evaluate(p, 0, 0x40000003 /* i386 */)).toBe(0x80000000);
    expect(evaluate(p, 0x40000000 + 59)).toBe(EPERM);
  });
  test("the whole deny table: each call refused without its capability, every other number allowed", () => {
    const p = buildFilter(defaults);
    const held = new Set(defaults);
    const refused = new Set<number>();
    for (const [cap, calls] of Object.entries(EXPECTED_DENY)) {
      // Docker's default set holds none of these capabilities: every group is refused.
      if (cap) expect(held.has(capNumber(cap))).toBe(false);
      for (const [name, nr] of Object.entries(calls)) {
        expect(`${name}=${evaluate(p, nr).toString(16)}`).toBe(`${name}=${EPERM.toString(16)}`);
        refused.add(nr);
      }
    }
    // Everything else up to the newest x86_64 numbers passes (clone/clone3 are checked above).
    for (let nr = 0; nr < 470; nr++) {
      if (refused.has(nr) || nr === 56 || nr === 435) continue;
      expect(`${nr}=${evaluate(p, nr, undefined, 0x11).toString(16)}`).toBe(`${nr}=${ALLOW.toString(16)}`);
    }
  });
  test("each capability opens exactly its own group, nothing else", () => {
    for (const [cap, calls] of Object.entries(EXPECTED_DENY)) {
      if (!cap) continue;
      const p = buildFilter([...defaults, capNumber(cap)]);
      for (const [group, other] of Object.entries(EXPECTED_DENY)) {
        const want = group === cap ? ALLOW : EPERM;
        for (const [name, nr] of Object.entries(other)) expect(`${cap}: ${name}=${evaluate(p, nr).toString(16)}`).toBe(`${cap}: ${name}=${want.toString(16)}`);
      }
      // Only CAP_SYS_ADMIN lets clone make namespaces.
      expect(`${cap}: clone(NEWUSER)=${evaluate(p, 56, undefined, 0x10000000) === ALLOW}`).toBe(`${cap}: clone(NEWUSER)=${cap === "SYS_ADMIN"}`);
      void calls;
    }
  });
  test("clone with any single namespace flag is refused without CAP_SYS_ADMIN", () => {
    const p = buildFilter(defaults);
    for (const flag of [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]) {
      expect(evaluate(p, 56, undefined, flag | 0x11)).toBe(EPERM);
    }
    // Threads and vfork (CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD…) stay allowed.
    expect(evaluate(p, 56, undefined, 0x003d0f00)).toBe(ALLOW);
    expect(evaluate(p, 56, undefined, 0x00004111)).toBe(ALLOW);
  });
  test("no capability set opens the always-refused calls; --cap-drop ALL refuses every group", () => {
    const all = buildFilter(resolveCaps({ add: ["ALL"] }));
    for (const [name, nr] of Object.entries(EXPECTED_DENY[""]!)) expect(`${name}=${evaluate(all, nr).toString(16)}`).toBe(`${name}=${EPERM.toString(16)}`);
    const none = buildFilter([]);
    for (const calls of Object.values(EXPECTED_DENY)) for (const [name, nr] of Object.entries(calls)) expect(`${name}=${evaluate(none, nr)}`).toBe(`${name}=${EPERM}`);
  });
  test("encoding is struct sock_filter", () => {
    const b = encodeFilter([[0x06, 1, 2, 0x7fff0000]]);
    expect([...b]).toEqual([6, 0, 1, 2, 0, 0, 0xff, 0x7f]);
  });
});
