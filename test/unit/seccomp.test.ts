import { describe, expect, test } from "bun:test";
import { buildFilter, encodeFilter } from "../../src/linux/seccomp.ts";
import { resolveCaps } from "../../src/linux/capabilities.ts";

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
  test("encoding is struct sock_filter", () => {
    const b = encodeFilter([[0x06, 1, 2, 0x7fff0000]]);
    expect([...b]).toEqual([6, 0, 1, 2, 0, 0, 0xff, 0x7f]);
  });
});
