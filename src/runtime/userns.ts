// A container in a user namespace (linux.namespaces "user"). create's clone makes the
// namespace (with the PID one, which must belong to it for the container to mount /proc) or
// joins one by path; its uid and gid maps are written from here while the child waits; the
// child becomes the namespace's root and execs init (spawn-fork.ts, forkexec.ts).
//
// Init then runs as a user the host knows only by the maps (host uid 100000, say): the state
// directory, init.json and the cgroup files are root's and out of its reach. So what it would
// open by path comes as fds (the exec fifo as an O_PATH fd it reopens, made its root's once
// the maps are known), and create moves it into the cgroup.
import { chownSync, readFileSync, writeFileSync } from "node:fs";
import { RuntimeError } from "./errors.ts";
import { hostId, type IdMapping, JOINED_BEFORE_CLONE, MADE_BEFORE_INIT, NAMESPACE_FLAGS, NAMESPACE_PROC, type Config, type Namespace } from "./config.ts";
import { prepareForkedSpawn, type ForkedSpawnOptions, type SpawnedProcess } from "./spawn-fork.ts";
import {
  AT_FDCWD, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, O_CLOEXEC, O_PATH, O_RDONLY,
  close, connectUnix, openat, setns, SyscallError,
} from "../linux/libc.ts";

/**
 * The fds init gets in a user namespace, numbered as it sees them: the plan at 4+preserve (its
 * OCI_INIT_ENV says "fd:N"), then these.
 */
export interface InheritedFds {
  /** exec.fifo (O_PATH), reopened for writing through /proc/self/fd. */
  fifo: number;
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
  c: Config, user: Namespace, o: { cmd: string[]; env: { [k: string]: string }; planPath: string; fifo: string; consoleSocket?: string; terminal: boolean; preserve: number; cwd: string; cgroupProcs: string[]; extraFds?: number[] },
): UserNsStart {
  const l = c.linux!;
  const opened: number[] = [];
  const keep = (fd: number) => (opened.push(fd), fd);
  try {
    const planFd = keep(openat(AT_FDCWD, o.planPath, O_RDONLY | O_CLOEXEC));
    const fifoFd = keep(openat(AT_FDCWD, o.fifo, O_PATH | O_CLOEXEC));
    let consoleFd = -1;
    if (o.terminal && o.consoleSocket) {
      try {
        consoleFd = keep(connectUnix(o.consoleSocket));
      } catch (e) {
        throw new RuntimeError(`cannot connect to the console socket ${o.consoleSocket}: ${(e as SyscallError).code ?? e}`);
      }
    }
    const pid = l.namespaces?.find((n) => n.type === "pid");
    const time = l.namespaces?.find((n) => n.type === "time");
    // A new PID namespace must be the user namespace's: made by the clone with a new one, or
    // unshared by the child once it has joined one by path.
    const makesPidNamespace = Boolean(pid && !pid.path);
    let made = 0;
    for (const n of l.namespaces ?? []) if (!n.path && MADE_BEFORE_INIT.includes(n.type)) made |= NAMESPACE_FLAGS[n.type]!;
    const spawnOptions: ForkedSpawnOptions = {
      env: o.env, terminal: o.terminal, preserve: o.preserve, cwd: o.cwd,
      // With a joined user namespace, a time namespace given by path is joined first, while the
      // child is still the host's root (which may join any).
      joins: user.path ? [...(time?.path ? [{ type: "time", path: time.path, flag: CLONE_NEWTIME }] : []), { type: "user", path: user.path, flag: CLONE_NEWUSER }] : [],
      cloneFlags: user.path ? 0 : CLONE_NEWUSER | made | (makesPidNamespace ? CLONE_NEWPID : 0),
      unshare: user.path ? made : 0,
      newPidNamespace: Boolean(user.path) && makesPidNamespace,
      becomeRoot: true,
      extraFds: [planFd, fifoFd, ...(consoleFd >= 0 ? [consoleFd] : []), ...(o.extraFds ?? [])],
      afterClone: (child) => {
        if (!user.path) writeIdMaps(child, l.uidMappings, l.gidMappings);
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

/** Run `fn` (the spawn) with this thread in the config's JOINED_BEFORE_CLONE namespaces, then come back. */
export function inJoinedNamespaces<T>(c: Config, fn: () => T): T {
  const back: [fd: number, flag: number][] = [];
  try {
    for (const n of c.linux?.namespaces ?? []) {
      if (!n.path || !JOINED_BEFORE_CLONE.includes(n.type)) continue;
      const flag = NAMESPACE_FLAGS[n.type]!;
      const own = openat(AT_FDCWD, `/proc/thread-self/ns/${NAMESPACE_PROC[n.type]}`, O_RDONLY | O_CLOEXEC);
      let target = -1;
      try {
        target = openat(AT_FDCWD, n.path, O_RDONLY | O_CLOEXEC);
        setns(target, flag, n.path);
      } catch (e) {
        close(own);
        throw new RuntimeError(`cannot join ${n.type} namespace ${n.path}: ${(e as SyscallError).code ?? e}`);
      } finally {
        if (target >= 0) close(target);
      }
      back.push([own, flag]);
    }
    return fn();
  } finally {
    for (const [own, flag] of back.reverse()) {
      setns(own, flag);
      close(own);
    }
  }
}

/**
 * exec.fifo made the root's of the user namespace `pid` is in (read from its maps, which a
 * namespace joined by path has too): init, that root, reopens it for writing. Until then it
 * is the host root's, in a directory only the host's root may search.
 */
export function giveFifo(fifo: string, pid: number): void {
  const root = (file: string) => {
    const maps = readFileSync(`/proc/${pid}/${file}`, "utf8").trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
    const id = hostId(maps.map(([containerID, hostID, size]) => ({ containerID: containerID!, hostID: hostID!, size: size! })), 0);
    if (id === undefined) throw new RuntimeError(`the container's user namespace maps no ${file === "uid_map" ? "uid" : "gid"} 0`);
    return id;
  };
  chownSync(fifo, root("uid_map"), root("gid_map"));
}

/** The child's uid_map and gid_map: written once, by a process of the parent namespace (us). */
export function writeIdMaps(pid: number, uid: IdMapping[] = [], gid: IdMapping[] = []): void {
  for (const [file, maps] of [["uid_map", uid], ["gid_map", gid]] as const) {
    const text = (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
    try {
      writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (e: any) {
      throw new RuntimeError(`cannot write the user namespace's ${file} (${text.trim().replace(/\n/g, ", ")}): ${e?.code ?? e}`);
    }
  }
}
