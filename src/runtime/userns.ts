// A container in a user namespace (linux.namespaces "user"). create's clone makes the
// namespace (with the PID one, which must belong to it for the container to mount /proc) or
// joins one by path; its uid and gid maps are written from here while the child waits; the
// child becomes the namespace's root and execs init (spawn-fork.ts, forkexec.ts).
//
// Init then runs as a user the host knows only by the maps (host uid 1000, say): the state
// directory, init.json and the cgroup files are root's and out of its reach. So what it would
// open by path comes as fds, the exec fifo is its root's, and create moves it into the cgroup.
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { RuntimeError } from "./errors.ts";
import { hostId, type Config, type Namespace } from "./config.ts";
import { prepareForkedSpawn, type ForkedSpawnOptions, type SpawnedProcess } from "./spawn-fork.ts";
import {
  AT_FDCWD, CLONE_NEWPID, CLONE_NEWUSER, O_CLOEXEC, O_DIRECTORY, O_PATH, O_RDONLY, close, connectUnix, openat, SyscallError,
} from "../linux/libc.ts";

/**
 * The fds init gets in a user namespace, numbered as it sees them: the plan at 4+preserve (its
 * OCI_INIT_ENV says "fd:N"), then these.
 */
export interface InheritedFds {
  /** The container's state directory (O_PATH), for exec.fifo. */
  state: number;
  /** The connected --console-socket. */
  console?: number;
}

export interface UserNsStart {
  /** Forks init (call inside a PID namespace window for a joined PID namespace). */
  start: () => SpawnedProcess;
  /** Whether the clone itself makes the container's PID namespace. */
  makesPidNamespace: boolean;
}

export function userNamespace(c: Config): Namespace | undefined {
  return c.linux?.namespaces?.find((n) => n.type === "user");
}

/**
 * Everything init needs from the host, opened before the clone; `cgroupProcs`: the files that
 * move it into the container's cgroup (written with its pid while it waits).
 */
export function prepareUserNamespaceInit(
  c: Config, user: Namespace, o: { cmd: string[]; env: { [k: string]: string }; planPath: string; stateDir: string; fifo: string; consoleSocket?: string; terminal: boolean; preserve: number; cwd: string; cgroupProcs: string[] },
): UserNsStart {
  const l = c.linux!;
  const opened: number[] = [];
  const keep = (fd: number) => (opened.push(fd), fd);
  try {
    // The state directory: searchable by anyone (its parent, the runtime root, stays root's
    // only), so init's root reaches exec.fifo through the fd; the fifo is that root's.
    chmodSync(o.stateDir, 0o711);
    const rootUid = hostId(l.uidMappings, 0), rootGid = hostId(l.gidMappings, 0);
    if (rootUid !== undefined && rootGid !== undefined) chownSync(o.fifo, rootUid, rootGid);
    // A joined namespace's maps are not in config.json: the fifo is then writable by all,
    // which reaches no one else (the runtime root above it is 0700).
    else chmodSync(o.fifo, 0o622);
    const planFd = keep(openat(AT_FDCWD, o.planPath, O_RDONLY | O_CLOEXEC));
    const stateFd = keep(openat(AT_FDCWD, o.stateDir, O_PATH | O_DIRECTORY | O_CLOEXEC));
    let consoleFd = -1;
    if (o.terminal && o.consoleSocket) {
      try {
        consoleFd = keep(connectUnix(o.consoleSocket));
      } catch (e) {
        throw new RuntimeError(`cannot connect to the console socket ${o.consoleSocket}: ${(e as SyscallError).code ?? e}`);
      }
    }
    const pid = l.namespaces?.find((n) => n.type === "pid");
    const makesPidNamespace = !user.path && Boolean(pid && !pid.path);
    const spawnOptions: ForkedSpawnOptions = {
      env: o.env, terminal: o.terminal, preserve: o.preserve, cwd: o.cwd,
      joins: user.path ? [{ type: "user", path: user.path, flag: CLONE_NEWUSER }] : [],
      cloneFlags: user.path ? 0 : CLONE_NEWUSER | (makesPidNamespace ? CLONE_NEWPID : 0),
      becomeRoot: true,
      extraFds: consoleFd >= 0 ? [planFd, stateFd, consoleFd] : [planFd, stateFd],
      afterClone: (child) => {
        if (!user.path) writeIdMaps(child, c);
        for (const f of o.cgroupProcs) {
          try {
            writeFileSync(f, String(child));
          } catch (e: any) {
            throw new RuntimeError(`cannot move init into cgroup ${f}: ${e?.code ?? e}`);
          }
        }
      },
      where: user.path ? `user namespace ${user.path}` : "a new user namespace",
    };
    const start = prepareForkedSpawn(o.cmd, spawnOptions);
    return {
      makesPidNamespace,
      start: () => {
        try {
          return start();
        } finally {
          closeAll();
        }
      },
    };
  } catch (e) {
    closeAll();
    throw e;
  }
  function closeAll() {
    for (const fd of opened.splice(0)) close(fd);
  }
}

/** The child's uid_map and gid_map: written once, by a process of the parent namespace (us). */
export function writeIdMaps(pid: number, c: Config): void {
  const l = c.linux!;
  for (const [file, maps] of [["uid_map", l.uidMappings], ["gid_map", l.gidMappings]] as const) {
    const text = (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
    try {
      writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (e: any) {
      throw new RuntimeError(`cannot write the user namespace's ${file} (${text.trim().replace(/\n/g, ", ")}): ${e?.code ?? e}`);
    }
  }
}
