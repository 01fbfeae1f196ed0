// config.json's process: the last steps before execve, shared by the container's init and by
// `exec`. Identity, capabilities, no_new_privs and seccomp are per thread in Bun; the caller
// execs from this same thread right after, which makes them the process's.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Config, Process } from "./config.ts";
import { rlimitNumber, notifiedSyscalls } from "./config.ts";
import { RuntimeError } from "./errors.ts";
import {
  prctl, capset, setgroups, setgid, setuid, umask, setRlimit, seccompSetFilter, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS,
  capget, syscallChecked, closeRangeCloexec, execve, SyscallError, connectUnix, sendFd,
} from "../linux/libc.ts";
import { resetSignalsForExec } from "../linux/signals.ts";
import { applyScheduling } from "./scheduling.ts";
import { inheritPreserved } from "./preserve-fds.ts";
import { ptr } from "bun:ffi";
import { capNumber, kernelLastCap } from "../linux/capabilities.ts";
import type { Profile } from "../linux/seccomp-profile.ts";

const SECCOMP_COMPILER_VERSION = 2;
const PR_SET_KEEPCAPS = 8, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_RAISE = 2, PR_CAP_AMBIENT_CLEAR_ALL = 4;

export interface CapPlan {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: number[];
}

/** The five sets as masks; an unknown name fails here (create), before anything runs. */
export function capabilityPlan(p: Process): CapPlan | undefined {
  const c = p.capabilities;
  if (!c) return undefined;
  const last = kernelLastCap();
  const toMask = (names: string[] | undefined, what: string) => {
    let m = 0n;
    for (const n of names ?? []) {
      let v: number;
      try {
        v = capNumber(n);
      } catch {
        throw new RuntimeError(`unknown capability ${JSON.stringify(n)} in process.capabilities.${what}`);
      }
      if (!/^CAP_/.test(n)) throw new RuntimeError(`capability ${JSON.stringify(n)} in process.capabilities.${what} must be spelled CAP_…`);
      if (v > last) continue; // newer than this kernel: it cannot be held, as runc
      m |= 1n << BigInt(v);
    }
    return m;
  };
  const ambient: number[] = [];
  const am = toMask(c.ambient, "ambient");
  for (let i = 0; i <= last; i++) if (am & (1n << BigInt(i))) ambient.push(i);
  return {
    bounding: toMask(c.bounding, "bounding"),
    effective: toMask(c.effective, "effective"),
    permitted: toMask(c.permitted, "permitted"),
    inheritable: toMask(c.inheritable, "inheritable"),
    ambient,
  };
}

/**
 * Refuse, while create can still fail, a hard limit above the current one without
 * CAP_SYS_RESOURCE (the kernel would refuse it at start, where it is too late to say so).
 */
export function checkRlimits(p: Process): void {
  const canRaise = (capget().effective & (1n << 24n)) !== 0n;
  for (const r of p.rlimits ?? []) {
    const res = rlimitNumber(r.type);
    if (r.soft > r.hard) throw new RuntimeError(`rlimit ${r.type}: soft limit ${r.soft} exceeds hard limit ${r.hard}`);
    if (canRaise) continue;
    const cur = new BigUint64Array(2);
    syscallChecked("prlimit64", 302, 0, res, 0, BigInt(ptr(cur)));
    if (BigInt(r.hard) > cur[1]!) throw new RuntimeError(`error setting rlimit type ${r.type}: hard limit ${r.hard} is above the current ${cur[1]} and the runtime lacks CAP_SYS_RESOURCE`);
  }
}

/** Rlimits are the process's (shared by all threads): set them any time before execve. */
export function applyRlimits(p: Process): void {
  for (const r of p.rlimits ?? []) {
    try {
      setRlimit(rlimitNumber(r.type), BigInt(r.soft), BigInt(r.hard));
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`error setting rlimit type ${r.type} (soft ${r.soft}, hard ${r.hard}): ${(e as Error).message}`);
    }
  }
}

/**
 * The container's seccomp profile as BPF. With `cacheDir`, a compiled profile is kept under
 * the hash of its JSON (Podman and containerd send the same profile for every container, and
 * compiling Docker's takes tens of milliseconds cold).
 */
export function compileSeccomp(c: Config, cacheDir?: string): { filter: Buffer; flags: number } | undefined {
  const s = c.linux?.seccomp;
  if (!s) return undefined;
  const text = JSON.stringify(s);
  // The key holds the compiler's version: a newer minid never loads an older one's output.
  const file = cacheDir && `${cacheDir}/v${SECCOMP_COMPILER_VERSION}-${Bun.hash(text).toString(16)}-${text.length}.bpf`;
  if (file) {
    try {
      const b = readFileSync(file);
      return { flags: b.readUInt32LE(0), filter: b.subarray(4) };
    } catch {}
  }
  // Only create and exec compile (init is handed the result): loaded when needed.
  const { compileProfile, ProfileError } = require("../linux/seccomp-profile.ts") as typeof import("../linux/seccomp-profile.ts");
  let out;
  try {
    out = compileProfile(s as Profile);
  } catch (e) {
    if (e instanceof ProfileError) throw new RuntimeError(e.message);
    throw e;
  }
  if (file) {
    try {
      mkdirSync(cacheDir!, { recursive: true, mode: 0o700 });
      const head = Buffer.alloc(4);
      head.writeUInt32LE(out.flags, 0);
      writeFileSync(`${file}.${process.pid}`, Buffer.concat([head, out.filter]));
      renameSync(`${file}.${process.pid}`, file);
    } catch {}
  }
  return out;
}

/** HOME from the container's /etc/passwd when the config's env lacks it (as runc). */
export function withHome(env: string[], uid: number): string[] {
  if (env.some((e) => e.startsWith("HOME="))) return env;
  let home = "/";
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length >= 6 && Number(f[2]) === uid && f[2] !== "") {
        home = f[5] || "/";
        break;
      }
    }
  } catch {}
  return [...env, `HOME=${home}`];
}

/** A compiled filter, its seccomp(2) flags, and (SCMP_ACT_NOTIFY) where its notification fd goes. */
export interface LoadedSeccomp {
  filter: Buffer;
  flags: number;
  listener?: { sock: number; message: string };
}

const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;

/**
 * SCMP_ACT_NOTIFY: connected to linux.seccomp.listenerPath now, while any call is allowed; the
 * message is the spec's container process state ("seccompFd" is the fd that comes with it).
 */
export function seccompListener(c: Config, state: { [k: string]: unknown }, hostPid: number): LoadedSeccomp["listener"] {
  const s = c.linux?.seccomp;
  if (!s?.listenerPath || !notifiedSyscalls(s).length) return undefined;
  let sock: number;
  try {
    sock = connectUnix(s.listenerPath);
  } catch (e) {
    throw new RuntimeError(`cannot connect to the seccomp listener ${s.listenerPath}: ${(e as SyscallError).code ?? e}`);
  }
  const message = JSON.stringify({
    ociVersion: "1.2.0", fds: ["seccompFd"], pid: hostPid, metadata: s.listenerMetadata ?? "", state: { ...state, pid: hostPid },
  });
  return { sock, message };
}

/** Load the filter; a notifying one's fd goes to its listener before anything else runs under it. */
function loadSeccomp(s: LoadedSeccomp): void {
  const fd = seccompSetFilter(s.filter, s.flags | (s.listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0));
  if (s.listener) sendFd(s.listener.sock, s.listener.message, fd);
}

/**
 * Identity, capabilities, no_new_privs, seccomp, in runc's order: a filter that needs
 * CAP_SYS_ADMIN (no no_new_privs) first; the bounding set; the user switch with capabilities
 * kept; the sets; ambient; no_new_privs; then a filter loaded under no_new_privs.
 */
export function applyProcessIdentity(p: Process, caps: CapPlan | undefined, seccomp: LoadedSeccomp | undefined): void {
  if (p.user.umask !== undefined) umask(p.user.umask);
  else umask(0o022);
  const step = (what: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      throw new RuntimeError(`${what}: ${(e as Error).message}`);
    }
  };
  const last = kernelLastCap();
  if (caps) {
    step("unable to apply caps (bounding set)", () => {
      for (let i = 0; i <= last; i++) if (!(caps.bounding & (1n << BigInt(i)))) prctl(PR_CAPBSET_DROP, i);
    });
  }
  step("cannot set user", () => {
    prctl(PR_SET_KEEPCAPS, 1);
    setgroups(p.user.additionalGids ?? []);
    setgid(p.user.gid);
    setuid(p.user.uid);
    prctl(PR_SET_KEEPCAPS, 0);
  });
  // The filter goes on as late as it can: this is a multithreaded Bun process, and a profile
  // may refuse what the runtime itself still does (Docker's older ones answer clone3 with
  // EPERM, which makes glibc's thread creation fail instead of falling back, and Bun abort).
  // Without no_new_privs loading needs CAP_SYS_ADMIN, kept in the sets until it is loaded.
  const SYS_ADMIN = 1n << 21n;
  if (caps) {
    step("unable to apply caps", () => {
      const have = capget().permitted;
      const missing = (caps.permitted | caps.effective) & ~have;
      if (missing) throw new Error(`operation not permitted (the runtime itself lacks capability mask 0x${missing.toString(16)})`);
      const keep = seccomp && !p.noNewPrivileges ? have & SYS_ADMIN : 0n;
      capset({ effective: caps.effective | keep, permitted: caps.permitted | keep, inheritable: caps.inheritable });
    });
  }
  if (seccomp && !p.noNewPrivileges) step("cannot load seccomp filter", () => loadSeccomp(seccomp));
  if (caps) {
    step("unable to apply caps", () => {
      if (seccomp && !p.noNewPrivileges) capset({ effective: caps.effective, permitted: caps.permitted, inheritable: caps.inheritable });
      prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
      // The kernel raises an ambient capability only if it is permitted and inheritable;
      // runc skips the others (its default spec lists ambient without inheritable), so do we.
      for (const a of caps.ambient) {
        const bit = 1n << BigInt(a);
        if (caps.permitted & caps.inheritable & bit) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, a);
      }
    });
  }
  if (p.noNewPrivileges) step("cannot set no_new_privs", () => void prctl(PR_SET_NO_NEW_PRIVS, 1));
  if (seccomp && p.noNewPrivileges) step("cannot load seccomp filter", () => loadSeccomp(seccomp));
}

/**
 * The last steps before the container's command, shared by create's init and exec: fds
 * closed on exec (before the filter: a profile may refuse close_range, as Docker's older ones
 * do), signals reset (Bun's ignored SIGPIPE/SIGXFSZ and this thread's mask would survive
 * execve; before the filter: it reads /proc/thread-self/status), rlimits late (a Bun process
 * does not survive some a container may ask for, RLIMIT_AS of 1 GB aborts it, while the
 * command fits in them), the scheduler, I/O priority and final CPU affinity (while the
 * capabilities a real-time class needs are held), then identity, capabilities, seccomp, and execve.
 */
export function execProcess(p: Process, caps: CapPlan | undefined, seccomp: LoadedSeccomp | undefined, path: string, args: string[], env: string[], preserve = 0): never {
  closeRangeCloexec(3 + preserve);
  inheritPreserved(preserve);
  try {
    resetSignalsForExec();
  } catch {}
  applyRlimits(p);
  applyScheduling(p);
  applyProcessIdentity(p, caps, seccomp);
  try {
    execve(path, args, env);
  } catch (e) {
    const code = (e as SyscallError).code;
    throw new RuntimeError(`exec: ${JSON.stringify(args[0])}: ${code === "EACCES" ? "permission denied" : code === "ENOENT" ? "no such file or directory" : code}`);
  }
  throw new RuntimeError(`exec: ${JSON.stringify(args[0])}: execve returned`);
}
