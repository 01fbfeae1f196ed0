// Container capabilities with docker's defaults and --cap-add/--cap-drop/--privileged rules
// (moby oci/caps.TweakCapabilities), applied the way runc's init does.
import { readFileSync } from "node:fs";
import { PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, realSyscalls } from "./libc.ts";
import type { Syscalls } from "./syscalls.ts";
import { applyUser, type ExecUser } from "./users.ts";

/** Capability names by number (linux/capability.h), without the CAP_ prefix. */
export const CAP_NAMES: readonly string[] = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
];
export const CAP_LAST_KNOWN = CAP_NAMES.length - 1; // 40

/** Docker's default set for unprivileged containers. */
export const DEFAULT_CAPS: readonly string[] = [
  "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
  "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
];

/** "net_admin" / "CAP_NET_ADMIN" → 12; throws on unknown names. */
export function capNumber(name: string): number {
  let n = name.toUpperCase();
  if (n.startsWith("CAP_")) n = n.slice(4);
  const i = CAP_NAMES.indexOf(n);
  if (i < 0) throw new Error(`unknown capability: "CAP_${n}"`);
  return i;
}

/** 12 → "CAP_NET_ADMIN" (or "CAP_41" for numbers newer than this table). */
export function capName(n: number): string {
  return `CAP_${CAP_NAMES[n] ?? n}`;
}

export interface CapRequest {
  add?: string[];
  drop?: string[];
  privileged?: boolean;
}

/**
 * The capability numbers a container gets (sorted, unique), following docker:
 * privileged → everything (add/drop ignored); add "ALL" → everything except `drop`;
 * drop "ALL" → only `add`; otherwise the defaults minus `drop` plus `add`.
 * Names are case-insensitive, with or without "CAP_". Unknown names throw.
 */
export function resolveCaps(req: CapRequest): number[] {
  const all = CAP_NAMES.map((_, i) => i);
  if (req.privileged) return all;
  // Docker's daemon names the list: `invalid CapAdd: unknown capability: "CAP_X"`.
  const norm = (list: string[] = [], which: string) =>
    list.map((s) => {
      if (s.toUpperCase() === "ALL") return "ALL";
      try {
        return capNumber(s);
      } catch (e) {
        throw new Error(`invalid ${which}: ${(e as Error).message}`);
      }
    });
  // Validate both lists before deciding, so a typo is reported even when ALL wins.
  const add = norm(req.add, "CapAdd");
  const drop = norm(req.drop, "CapDrop");
  let caps: number[];
  if (add.includes("ALL")) {
    caps = all.filter((c) => !drop.includes(c));
  } else if (drop.includes("ALL")) {
    caps = add as number[];
  } else {
    caps = DEFAULT_CAPS.map(capNumber).filter((c) => !drop.includes(c));
    caps.push(...(add as number[]));
  }
  return [...new Set(caps)].sort((a, b) => a - b);
}

/** Highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap). */
export function kernelLastCap(): number {
  try {
    return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  } catch {
    return CAP_LAST_KNOWN;
  }
}

function mask(caps: Iterable<number>): bigint {
  let m = 0n;
  for (const c of caps) m |= 1n << BigInt(c);
  return m;
}

const PR_SET_KEEPCAPS = 8;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

export interface ApplyCapsOptions {
  /**
   * Switch to this user between dropping the bounding set and setting the final sets, as
   * runc does: the switch needs CAP_SETUID/SETGID, which `caps` may not contain, and a
   * switch to a non-root uid would otherwise wipe the permitted set we still need.
   */
  user?: Pick<ExecUser, "uid" | "gid" | "additionalGids">;
  /**
   * Silently skip capabilities minid itself does not hold instead of failing. Use it for
   * --privileged (podman's rule: a privileged container gets all the caps of its runtime);
   * e.g. this project's CI root lacks CAP_SYS_RESOURCE.
   */
  allowMissing?: boolean;
}

/**
 * Reduce the calling thread to exactly `caps` (capability numbers): bounding set, ambient
 * cleared, permitted = effective = `caps`, inheritable empty.
 *
 * Inheritable is left empty on purpose: docker did fill it until CVE-2022-24769 (a non-root
 * user could gain file-inheritable caps through execve).
 *
 * Thread-scoped: the init must call this right before execve from the same thread; execve
 * then makes the result process-wide. Call order in the init:
 * applyCaps(caps, { user }) → setNoNewPrivs() → execve.
 */
export function applyCaps(caps: number[], opts: ApplyCapsOptions = {}, sys: Syscalls = realSyscalls): void {
  const plan = capabilityPlan(caps, opts.allowMissing, sys);
  // PR_CAPBSET_DROP needs CAP_SETPCAP in effective, so this must precede the capset below.
  for (const c of plan.dropBounding) sys.prctl(PR_CAPBSET_DROP, c);
  if (opts.user) {
    sys.prctl(PR_SET_KEEPCAPS, 1);
    applyUser(opts.user, sys);
    sys.prctl(PR_SET_KEEPCAPS, 0);
  }
  sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  sys.capset({ effective: plan.mask, permitted: plan.mask, inheritable: 0n });
}

/**
 * What reducing the calling thread to `caps` takes, worked out before any of it is done
 * (exec performs it with raw calls in a stretch where it may not allocate): the bounding-set
 * entries to drop and the mask for effective and permitted.
 */
export function capabilityPlan(
  caps: number[],
  allowMissing = false,
  sys: Syscalls = realSyscalls,
): { dropBounding: number[]; mask: bigint } {
  const last = kernelLastCap();
  const have = sys.capget().permitted;
  let keep = caps.filter((c) => c >= 0 && c <= last); // a cap this kernel lacks can't be held
  const missing = keep.filter((c) => (have & (1n << BigInt(c))) === 0n);
  if (missing.length && !allowMissing) {
    throw new Error(
      `cannot grant ${missing.map(capName).join(", ")}: minid itself does not hold ${missing.length > 1 ? "them" : "it"}`,
    );
  }
  keep = keep.filter((c) => !missing.includes(c));
  const keepSet = new Set(keep);
  const dropBounding: number[] = [];
  for (let c = 0; c <= last; c++) if (!keepSet.has(c)) dropBounding.push(c);
  return { dropBounding, mask: mask(keep) };
}

/** no_new_privs: setuid binaries and file caps can no longer raise privileges after execve. */
export function setNoNewPrivs(sys: Syscalls = realSyscalls): void {
  sys.prctl(PR_SET_NO_NEW_PRIVS, 1);
}
