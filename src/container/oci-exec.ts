// `minid exec` into a container built by another OCI runtime (`minid run --runtime runc|crun|PATH`),
// as `docker exec` does: the runtime itself is asked, `RUNTIME [global args] --root STATE exec
// [flags] ID CMD...`.
//
// Where it runs: the runtime's state (STATE = the container's runtime/ dir) records the
// container's pid as seen from inside minid init's PID namespace, and the bundle's config
// leaves UTS, IPC and network (made by init) and the mount namespace holding the rootfs and
// that /proc to be inherited. So a host-side `runc exec` finds the container "stopped", and
// even inside the right PID namespace it would give the process the host's hostname. The
// runtime exec therefore runs in every namespace of the `runc run` process (the watcher's
// child, ref.pid): exactly what exec.ts's machinery already does for minid's own containers
// (the Worker of exec-enter.ts joins cgroup, ipc, uts, net, mnt, then forks into the PID
// namespace with linux/forkexec.ts). This module only rewrites the request: the command
// becomes the runtime's, run as root with full capabilities (privileged, no seccomp, no
// user switch: the runtime confines the command itself, with the container's config), from
// "/" of init's mount namespace (the host's root, where the runtime binary and STATE are).
// No nsenter, no C; nothing new in the fork path (not benchmarked: the cost is the runtime's
// own exec, tens of milliseconds, against which the entry is small).
//
// Docker's 126/127 cannot come from the runtime: runc and crun answer every start failure
// (missing command, not executable, missing -w directory, unknown user) with one status,
// 255 for runc and 1 or 255 for crun, and a message. So the host side checks first, in the
// container's rootfs (init's mount namespace, through /proc/PID/root, with RESOLVE_IN_ROOT):
// the command (127 when missing, 126 when a directory or not executable), -w (126) and -u
// (126), as exec-enter.ts does for minid containers. -u is resolved here to numbers, since
// runtimes take only UID[:GID]; its supplementary groups go as runc's --additional-gids
// (crun has no such flag: it keeps the config's groups).
//
// Leftovers: `runc exec` removes its own state (an exec leaves no entry in STATE); it
// waits for the command (as a subreaper) and exits with its status (128+N for a signal), so
// the status and signals pass through forkexec's pidfd unchanged. With -d the runtime
// returns once the command started; the command is then reaped by `runc run` (PID 1 there).
import { existsSync, statSync, type Stats } from "node:fs";
import { basename, join, posix } from "node:path";
import type { InitSpec } from "../spec/init-spec.ts";
import type { OciRuntimeChoice } from "../spec/oci-config.ts";
import { ExecError, findExecutable } from "./executable.ts";
import { EXIT_CANNOT_EXEC } from "../util/errors.ts";

export interface RuntimeExecInput {
  cmd: string[];
  env: string[];
  tty: boolean;
  detach: boolean;
  workdir?: string;
  user?: string;
  privileged: boolean;
}

/** What exec.ts hands to the entering thread instead of the container's own command. */
export interface RuntimeExecPlan {
  spec: InitSpec;
  cmd: string[];
  env: string[];
  workdir: string;
  privileged: true;
}

/** The runtime's global arguments as runWithRuntime gave them at run (oci-runtime.ts). */
export function runtimeGlobalArgs(rt: OciRuntimeChoice): string[] {
  const v1 = !existsSync("/sys/fs/cgroup/cgroup.controllers");
  return v1 && basename(rt.path) === "crun" ? ["--cgroup-manager=disabled"] : [];
}

export function runtimeExecPlan(spec: InitSpec & { runtime: OciRuntimeChoice }, id: string, containerDir: string, runtimePid: number, o: RuntimeExecInput): RuntimeExecPlan {
  const rt = spec.runtime;
  const lib = require("../linux/libc.ts") as typeof import("../linux/libc.ts");
  const { realSyscalls: sys, O_PATH, O_DIRECTORY, O_CLOEXEC, AT_FDCWD } = lib;
  const { openInRoot, fdPath, readTextInRoot } = require("../linux/safepath.ts") as typeof import("../linux/safepath.ts");
  const { resolveContainerIdentity } = require("../linux/users.ts") as typeof import("../linux/users.ts");
  // The rootfs as the runtime's mount namespace has it (init mounted it there, not on the host).
  const rootFd = sys.openat(AT_FDCWD, `/proc/${runtimePid}/root${spec.rootfs.target}`, O_PATH | O_DIRECTORY | O_CLOEXEC);
  const statIn = (p: string): Stats => {
    const fd = openInRoot(sys, rootFd, p, O_PATH);
    try {
      return statSync(fdPath(fd));
    } finally {
      sys.close(fd);
    }
  };
  const readIn = (p: string): string | null => readTextInRoot(sys, rootFd, p);
  let user;
  let cwd: string;
  try {
    try {
      user = resolveContainerIdentity(o.user ?? spec.userSpec ?? "", spec.groupAdd ?? [], readIn("/etc/passwd"), readIn("/etc/group"));
    } catch (e) {
      throw new ExecError((e as Error).message, EXIT_CANNOT_EXEC);
    }
    cwd = o.workdir ?? spec.cwd ?? "/";
    let isDir = false;
    try {
      isDir = statIn(cwd).isDirectory();
    } catch {}
    if (!isDir) throw new ExecError(`chdir to cwd ("${cwd}") set in config.json failed: no such file or directory`, EXIT_CANNOT_EXEC);
    checkCommand(o.cmd[0]!, cwd, o.env, statIn);
  } finally {
    sys.close(rootFd);
  }

  const env = o.env.some((e) => e.startsWith("HOME=")) ? o.env : [...o.env, `HOME=${user.home}`];
  const isRunc = basename(rt.path) !== "crun";
  const flags: string[] = ["--user", `${user.uid}:${user.gid}`, "--cwd", cwd];
  if (isRunc) for (const g of user.additionalGids) if (g !== user.gid) flags.push("--additional-gids", String(g));
  for (const e of env) flags.push("--env", e);
  if (o.tty && !o.detach) flags.push("--tty");
  if (o.detach) flags.push("--detach");
  if (o.privileged) {
    const { CAP_NAMES } = require("../linux/capabilities.ts") as typeof import("../linux/capabilities.ts");
    for (const c of CAP_NAMES) flags.push("--cap", c);
  }
  const cmd = [rt.path, ...runtimeGlobalArgs(rt), "--root", join(containerDir, "runtime"), "exec", ...flags, id, ...o.cmd];
  // The runtime itself: root, every capability, no seccomp, the host root of init's mount
  // namespace; still the container's cgroup (crun with cgroups disabled leaves it there).
  const runtimeSpec: InitSpec = {
    ...spec, userSpec: undefined, user: undefined, groupAdd: [], capabilities: undefined, seccomp: false, noNewPrivileges: false, cwd: "/",
  };
  return { spec: runtimeSpec, cmd, env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], workdir: "/", privileged: true };
}

/**
 * Docker's 127/126 for the command, looked up in the container's root as execve would, from
 * the exec's working directory; a path that is not executable is 126 here too (no execve of
 * ours follows to say so).
 */
function checkCommand(cmd: string, cwd: string, env: string[], statIn: (p: string) => Stats): void {
  const at = (p: string) => statIn(posix.resolve(cwd, p));
  const path = findExecutable(cmd, env, at);
  if (cmd.includes("/") && !(at(path).mode & 0o111)) throw new ExecError(`exec: "${cmd}": permission denied`, EXIT_CANNOT_EXEC);
}
