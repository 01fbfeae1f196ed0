// The OCI/libseccomp profile language (Docker's and Podman's seccomp.json, runtime-spec
// linux.seccomp) compiled to classic BPF: a default action, per-syscall actions with errnoRet,
// argument conditions on 64-bit values (each compared as two 32-bit halves), and the x86
// architectures this kernel can run (x86_64, x32, i386). Rules follow runc's reading of a
// profile: conditions of one entry are ANDed, unless two name the same argument, then each
// condition is a rule of its own (ORed); a rule whose action is the default is dropped;
// names this table does not know are skipped (a profile lists syscalls of every architecture).
import { X86_64, I386, X32 } from "./syscall-table.ts";

export interface ProfileArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface ProfileRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: ProfileArg[];
}

export interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: ProfileRule[];
}

export class ProfileError extends Error {}

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const X32_BIT = 0x40000000;
const EPERM = 1;

const LD_W_ABS = 0x20, JEQ = 0x15, JGT = 0x25, JGE = 0x35, JSET = 0x45, JA = 0x05, RET = 0x06, ALU_AND = 0x54, LD_A_X = 0;
void JSET;
void LD_A_X;

type Insn = [code: number, jt: number, jf: number, k: number];

export const ACTIONS = ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"];
export const OPERATORS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
export const ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
export const FLAGS: Record<string, number> = { SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };

export function actionValue(action: string, errnoRet: number | undefined): number {
  switch (action) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return 0;
    case "SCMP_ACT_KILL_PROCESS":
      return 0x80000000;
    case "SCMP_ACT_TRAP":
      return 0x00030000;
    case "SCMP_ACT_ERRNO":
      return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_ALLOW":
      return 0x7fff0000;
    case "SCMP_ACT_LOG":
      return 0x7ffc0000;
    case "SCMP_ACT_NOTIFY":
      return 0x7fc00000; // SECCOMP_RET_USER_NOTIF: the listener (linux.seccomp.listenerPath) answers
    default:
      throw new ProfileError(`seccomp: unknown action ${JSON.stringify(action)}`);
  }
}

interface Rule {
  action: number;
  conds: ProfileArg[];
}

/** Rules per syscall number for one architecture's table. */
function rulesFor(p: Profile, table: Record<string, number>, defaultAction: number): Map<number, Rule[]> {
  const out = new Map<number, Rule[]>();
  for (const s of p.syscalls ?? []) {
    const action = actionValue(s.action, s.errnoRet);
    const args = s.args ?? [];
    for (const a of args) {
      if (!OPERATORS.includes(a.op)) throw new ProfileError(`seccomp: unknown operator ${JSON.stringify(a.op)}`);
      if (!(a.index >= 0 && a.index < 6)) throw new ProfileError(`seccomp: argument index ${a.index} out of range`);
    }
    if (action === defaultAction) continue;
    const counts = new Map<number, number>();
    for (const a of args) counts.set(a.index, (counts.get(a.index) ?? 0) + 1);
    const split = [...counts.values()].some((n) => n > 1);
    const groups = split ? args.map((a) => [a]) : [args];
    for (const name of s.names ?? []) {
      const nr = table[name];
      if (nr === undefined) continue;
      let list = out.get(nr);
      if (!list) out.set(nr, (list = []));
      for (const conds of groups) list.push({ action, conds });
    }
  }
  // Conditional rules are tried first; the first unconditional one ends the syscall's list.
  for (const [nr, list] of out) {
    const cond = list.filter((r) => r.conds.length);
    const plain = list.find((r) => !r.conds.length);
    out.set(nr, plain ? [...cond, plain] : cond);
  }
  return out;
}

const u32 = (n: number) => n >>> 0;
function halves(v: number): [hi: number, lo: number] {
  const b = BigInt.asUintN(64, BigInt(Math.trunc(v)));
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

/**
 * One condition as code that falls through when it holds and jumps to `fail` (a label) when it
 * does not. Labels are resolved after layout.
 */
function condition(c: ProfileArg, fail: string): (Insn | Jump | Label)[] {
  const hiOff = 16 + c.index * 8 + 4;
  const loOff = 16 + c.index * 8;
  const [vh, vl] = halves(c.value);
  const ok = `ok${labelSeq++}`;
  const code: (Insn | Jump | Label)[] = [];
  const ld = (off: number): Insn => [LD_W_ABS, 0, 0, off];
  switch (c.op) {
    case "SCMP_CMP_EQ":
      code.push(ld(hiOff), { op: JEQ, k: vh, t: null, f: fail }, ld(loOff), { op: JEQ, k: vl, t: null, f: fail });
      break;
    case "SCMP_CMP_NE":
      code.push(ld(hiOff), { op: JEQ, k: vh, t: null, f: ok }, ld(loOff), { op: JEQ, k: vl, t: fail, f: null });
      break;
    case "SCMP_CMP_MASKED_EQ": {
      const [mh, ml] = [vh, vl];
      const [eh, el] = halves(c.valueTwo ?? 0);
      code.push(ld(hiOff), [ALU_AND, 0, 0, u32(mh)], { op: JEQ, k: eh, t: null, f: fail }, ld(loOff), [ALU_AND, 0, 0, u32(ml)], { op: JEQ, k: el, t: null, f: fail });
      break;
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE": {
      // hi > vh → ok; hi < vh → fail; equal → compare lo
      const loOp = c.op === "SCMP_CMP_GT" ? JGT : JGE;
      code.push(ld(hiOff), { op: JGT, k: vh, t: ok, f: null }, { op: JEQ, k: vh, t: null, f: fail }, ld(loOff), { op: loOp, k: vl, t: null, f: fail });
      break;
    }
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE": {
      // a < v ⇔ !(a >= v); a <= v ⇔ !(a > v)
      const loOp = c.op === "SCMP_CMP_LT" ? JGE : JGT;
      code.push(ld(hiOff), { op: JGT, k: vh, t: fail, f: null }, { op: JEQ, k: vh, t: null, f: ok }, ld(loOff), { op: loOp, k: vl, t: fail, f: null });
      break;
    }
    default:
      throw new ProfileError(`seccomp: unknown operator ${JSON.stringify(c.op)}`);
  }
  code.push({ label: ok });
  return code;
}

interface Jump {
  op: number;
  k: number;
  /** label or null (fall through) */
  t: string | null;
  f: string | null;
}
interface Label {
  label: string;
}
let labelSeq = 0;

/**
 * The highest syscall number the profile names for a table: calls newer than every one it
 * knows answer ENOSYS (runc's stub), so libc falls back (clone3 → clone) instead of failing
 * with the default EPERM, which would make a thread creation in the runtime itself fail.
 */
function newestKnown(p: Profile, table: Record<string, number>): number {
  let max = -1;
  for (const s of p.syscalls ?? []) for (const n of s.names ?? []) if (table[n] !== undefined && table[n]! > max) max = table[n]!;
  return max;
}

const ENOSYS_RET = 0x00050000 | 38;

function archSection(rules: Map<number, Rule[]>, defaultAction: number, x32Mode: "deny" | "none" | "table", x32Rules: Map<number, Rule[]> | null, badArch: number, newest: [native: number, x32: number] = [-1, -1]): (Insn | Jump | Label)[] {
  const code: (Insn | Jump | Label)[] = [];
  const stub = (max: number) => {
    if (max < 0 || defaultAction === 0x7fff0000 || defaultAction === 0x7ffc0000) return;
    code.push([LD_W_ABS, 0, 0, 0]);
    code.push({ op: JGT, k: max, t: `enosys${labelSeq}`, f: null });
    code.push({ ja: `past${labelSeq}` } as any);
    code.push({ label: `enosys${labelSeq}` });
    code.push([RET, 0, 0, ENOSYS_RET]);
    code.push({ label: `past${labelSeq++}` });
  };
  const body = (rs: Map<number, Rule[]>) => {
    // Syscalls with one unconditional rule share a return per action: runs of "jeq nr → ret"
    // (under the 8-bit jump reach), one instruction per syscall.
    const plain = new Map<number, number[]>();
    const rest: [number, Rule[]][] = [];
    for (const [nr, list] of [...rs].sort((a, b) => a[0] - b[0])) {
      if (list.length === 1 && !list[0]!.conds.length) {
        const l = plain.get(list[0]!.action) ?? [];
        l.push(nr);
        plain.set(list[0]!.action, l);
      } else rest.push([nr, list]);
    }
    code.push([LD_W_ABS, 0, 0, 0]);
    for (const [action, nrs] of plain) {
      for (let i = 0; i < nrs.length; i += 200) {
        const chunk = nrs.slice(i, i + 200);
        const ret = `r${labelSeq++}`;
        const after = `a${labelSeq++}`;
        for (const nr of chunk) code.push({ op: JEQ, k: nr, t: ret, f: null });
        code.push({ ja: after } as any);
        code.push({ label: ret });
        code.push([RET, 0, 0, u32(action)]);
        code.push({ label: after });
      }
    }
    for (const [nr, list] of rest) {
      const next = `n${labelSeq++}`;
      code.push([LD_W_ABS, 0, 0, 0]);
      code.push({ op: JEQ, k: nr, t: null, f: next });
      for (const r of list) {
        const fail = `f${labelSeq++}`;
        for (const c of r.conds) code.push(...condition(c, fail));
        code.push([RET, 0, 0, u32(r.action)]);
        code.push({ label: fail });
      }
      code.push({ label: next });
    }
  };
  if (x32Mode !== "none") {
    const native = `native${labelSeq++}`;
    code.push([LD_W_ABS, 0, 0, 0]);
    code.push({ op: JGE, k: X32_BIT, t: null, f: native });
    if (x32Mode === "table" && x32Rules) {
      stub(newest[1]);
      body(x32Rules);
      code.push([RET, 0, 0, u32(defaultAction)]);
    } else {
      code.push([RET, 0, 0, u32(badArch)]);
    }
    code.push({ label: native });
  }
  stub(newest[0]);
  body(rules);
  code.push([RET, 0, 0, u32(defaultAction)]);
  return code;
}

/** Resolve labels; a conditional jump too far for 8 bits goes through an unconditional one. */
function assemble(code: (Insn | Jump | Label)[]): Insn[] {
  // Expand far jumps iteratively: first lay out with every Jump as one instruction.
  let items = code.slice();
  for (let pass = 0; pass < 10; pass++) {
    const pos = new Map<string, number>();
    let n = 0;
    for (const it of items) {
      if ("label" in it) pos.set(it.label, n);
      else n++;
    }
    const out: Insn[] = [];
    let far = false;
    const expanded: (Insn | Jump | Label)[] = [];
    let i = 0;
    for (const it of items) {
      if ("label" in it) {
        expanded.push(it);
        continue;
      }
      if (Array.isArray(it)) {
        out.push(it);
        expanded.push(it);
        i++;
        continue;
      }
      if ((it as any).ja) {
        const d = pos.get((it as any).ja)! - i - 1;
        out.push([JA, 0, 0, d]);
        expanded.push(it);
        i++;
        continue;
      }
      const dist = (l: string | null) => (l === null ? 0 : pos.get(l)! - i - 1);
      const jt = dist(it.t), jf = dist(it.f);
      if (jt > 255 || jf > 255) {
        far = true;
        // jeq k, 0, 1 (true: fall to "ja t"), else: "ja f"
        const tl = it.t ?? `ft${labelSeq++}`;
        const fl = it.f ?? `ff${labelSeq++}`;
        expanded.push({ op: it.op, k: it.k, t: null, f: `fj${labelSeq}` } as Jump);
        expanded.push({ ja: tl } as any);
        expanded.push({ label: `fj${labelSeq++}` });
        expanded.push({ ja: fl } as any);
        if (it.t === null) expanded.push({ label: tl });
        if (it.f === null) expanded.push({ label: fl });
      } else {
        out.push([it.op, jt, jf, u32(it.k)]);
        expanded.push(it);
      }
      i++;
    }
    if (!far) return out;
    items = expanded;
  }
  throw new ProfileError("seccomp: profile too large to assemble");
}

/** The profile as struct sock_filter[] bytes and the seccomp(2) flags it asks for. */
export function compileProfile(p: Profile): { filter: Buffer; flags: number } {
  const defaultAction = actionValue(p.defaultAction, p.defaultErrnoRet);
  const arches = p.architectures?.length ? p.architectures : ["SCMP_ARCH_X86_64"];
  for (const a of arches) if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(a)) throw new ProfileError(`seccomp: unknown architecture ${JSON.stringify(a)}`);
  let flags = 0;
  for (const f of p.flags ?? []) {
    if (!(f in FLAGS)) throw new ProfileError(`seccomp: unknown flag ${JSON.stringify(f)}`);
    flags |= FLAGS[f]!;
  }
  // Architectures this kernel cannot run (arm, s390x, ...) cannot reach the filter: ignored.
  const badArch = 0x80000000; // kill the process, as libseccomp's default for a foreign arch
  const native = rulesFor(p, X86_64, defaultAction);
  const hasX32 = arches.includes("SCMP_ARCH_X32");
  const x32Table = Object.fromEntries(Object.entries(X32).map(([k, v]) => [k, v | X32_BIT]));
  const x32 = hasX32 ? rulesFor(p, x32Table, defaultAction) : null;
  const code: (Insn | Jump | Label)[] = [];
  code.push([LD_W_ABS, 0, 0, 4]);
  const i386 = arches.includes("SCMP_ARCH_X86");
  const l386 = `i386_${labelSeq++}`;
  const lbad = `bad${labelSeq++}`;
  code.push({ op: JEQ, k: AUDIT_ARCH_X86_64, t: null, f: i386 ? l386 : lbad });
  code.push(...archSection(native, defaultAction, hasX32 ? "table" : "deny", x32, badArch, [newestKnown(p, X86_64), hasX32 ? newestKnown(p, x32Table) : -1]));
  if (i386) {
    code.push({ label: l386 });
    code.push([LD_W_ABS, 0, 0, 4]);
    code.push({ op: JEQ, k: AUDIT_ARCH_I386, t: null, f: lbad });
    code.push(...archSection(rulesFor(p, I386, defaultAction), defaultAction, "none", null, badArch, [newestKnown(p, I386), -1]));
  }
  code.push({ label: lbad });
  code.push([RET, 0, 0, badArch]);
  const prog = assemble(code);
  if (prog.length > 4096) throw new ProfileError(`seccomp: the compiled filter has ${prog.length} instructions (the kernel takes 4096)`);
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach(([c, jt, jf, k], i) => {
    b.writeUInt16LE(c, i * 8);
    b.writeUInt8(jt, i * 8 + 2);
    b.writeUInt8(jf, i * 8 + 3);
    b.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return { filter: b, flags };
}
