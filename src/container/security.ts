// Process-level confinement applied by init right before exec: identity, capabilities and
// no_new_privs. All of it is per-thread in a Bun process; init calls execve from this same
// thread right after, which makes it the whole process's.
import { readFileSync } from "node:fs";
import type { InitSpec } from "../spec/init-spec.ts";
// Imported statically on purpose: init runs this after pivot_root, where a lazy import from
// source (bun src/cli.ts) would look for the module inside the container.
import { applyUser, resolveContainerIdentity, type ExecUser } from "../linux/users.ts";
import { applyCaps, capabilityPlan, setNoNewPrivs } from "../linux/capabilities.ts";
import { compileSeccomp, installSeccomp } from "../linux/seccomp.ts";
import type { Confinement } from "../linux/forkexec.ts";
import { RLIMITS } from "../linux/libc.ts";
import { UserError } from "../util/errors.ts";
import { realSyscalls, AT_FDCWD, O_PATH, O_DIRECTORY, O_CLOEXEC } from "../linux/libc.ts";
import { readTextInRoot } from "../linux/safepath.ts";
import type { Syscalls } from "../linux/syscalls.ts";

function readOptional(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/**
 * Resolve --user (none: root) and --group-add against the container's own /etc/passwd and
 * /etc/group (call after pivot_root). Always an identity, so root gets its image groups and
 * never keeps minid's own supplementary groups.
 */
export function resolveContainerUser(spec: InitSpec): ExecUser {
  return identity(spec, readOptional);
}

/** The same, before the pivot: the files read from the root at `root` without following a path out of it. */
export function resolveUserInRoot(spec: InitSpec, root: string, sys: Syscalls = realSyscalls): ExecUser {
  const rootFd = sys.openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    return identity(spec, (p) => readTextInRoot(sys, rootFd, p));
  } finally {
    sys.close(rootFd);
  }
}

function identity(spec: InitSpec, read: (path: string) => string | null): ExecUser {
  try {
    return resolveContainerIdentity(spec.userSpec ?? "", spec.groupAdd ?? [], read("/etc/passwd"), read("/etc/group"));
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

export function applyProcessSecurity(spec: InitSpec, user: ExecUser | undefined, sys: Syscalls = realSyscalls): void {
  const caps = spec.capabilities;
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we still have it.
  if (spec.seccomp && !spec.noNewPrivileges) installSeccomp(caps ?? [], sys);
  if (caps) {
    applyCaps(caps, { user, allowMissing: spec.privileged }, sys);
  } else if (user) {
    applyUser(user, sys);
  }
  if (spec.noNewPrivileges) {
    setNoNewPrivs(sys);
    if (spec.seccomp) installSeccomp(caps ?? [], sys);
  }
}

/**
 * The same confinement as applyProcessSecurity, as a plan for a thread that performs it
 * itself with raw calls (exec's entering thread; see linux/forkexec.ts).
 */
export function confinementOf(spec: InitSpec, user: ExecUser | undefined, cwd: string): Omit<Confinement, "pidNamespace"> {
  const caps = spec.capabilities;
  const plan = caps ? capabilityPlan(caps, spec.privileged) : undefined;
  return {
    seccomp: spec.seccomp ? { ...compileSeccomp(caps ?? []), afterNoNewPrivs: Boolean(spec.noNewPrivileges) } : undefined,
    dropBounding: plan?.dropBounding ?? [],
    user: user ? { uid: user.uid, gid: user.gid, groups: user.additionalGids } : undefined,
    caps: plan?.mask,
    noNewPrivs: Boolean(spec.noNewPrivileges),
    cwd,
    // --ulimit reaches exec'd processes too (runc's exec applies the container's rlimits).
    rlimits: spec.runOptions?.ulimits?.map((u) => [RLIMITS[u.name]!, u.soft, u.hard] as [number, number, number]),
  };
}

