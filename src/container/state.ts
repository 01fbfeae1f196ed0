// The container state store: one JSON document per container, always replaced atomically,
// and a lock per container plus one for names so concurrent commands cannot corrupt state or
// hand one name to two containers.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { MountSpec } from "./spec.ts";
import type { CgroupLimits, CgroupPaths } from "../linux/cgroups.ts";

export interface SecurityConfig {
  capabilities: number[];
  noNewPrivileges: boolean;
  privileged: boolean;
  readOnlyRootfs: boolean;
  /** The default seccomp filter (off with --privileged or seccomp=unconfined). */
  seccomp?: boolean;
}
import { mkdirp, readJson, removeTree, withLock, writeJsonAtomic } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { NAME_RE, randomName } from "../util/ids.ts";

export type Status = "created" | "running" | "paused" | "exited" | "removing";

export interface ContainerState {
  id: string;
  name: string;
  /** Image as the user named it, and the resolved id. */
  image: string;
  imageId: string;
  created: string;
  path: string;
  args: string[];
  config: {
    env: string[];
    cwd: string;
    hostname: string;
    tty: boolean;
    interactive: boolean;
    user?: string;
    entrypoint?: string[] | null;
    cmd?: string[] | null;
  };
  mounts: MountSpec[];
  storage: { driver: "overlay" | "aufs" | "vfs"; lowerdirs: string[] };
  autoRemove: boolean;
  state: {
    status: Status;
    pid: number;
    /** Start time of pid (field 22 of /proc/PID/stat) so a reused PID is never mistaken. */
    pidStart?: string;
    exitCode: number;
    startedAt?: string;
    finishedAt?: string;
    oomKilled: boolean;
    error?: string;
    /** Kernel boot the pid belongs to: after a reboot no recorded pid is ours. */
    bootId?: string;
    /** The watcher (`minid _shim`) that owns the running container's stdio and exit. */
    shimPid?: number;
    shimStart?: string;
  };
  cgroupPaths?: CgroupPaths;
  /** Confinement chosen at create time; init applies it at every start. */
  security?: SecurityConfig;
  resources?: CgroupLimits;
  extra?: Record<string, unknown>;
}

export class ContainerStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, "containers");
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }
  private stateFile(id: string): string {
    return join(this.dir, id, "state.json");
  }
  private get namesLock(): string {
    return join(this.dir, ".names.lock");
  }

  lockContainer<T>(id: string, fn: () => T): T {
    return withLock(join(this.dir, id, ".lock"), fn);
  }

  load(id: string): ContainerState | undefined {
    return readJson<ContainerState>(this.stateFile(id));
  }

  save(st: ContainerState): void {
    writeJsonAtomic(this.stateFile(st.id), st);
  }

  /** Read-modify-write under the container's lock. */
  update(id: string, fn: (st: ContainerState) => void): ContainerState {
    return this.lockContainer(id, () => {
      const st = this.load(id);
      if (!st) throw new UserError(`No such container: ${id}`);
      fn(st);
      this.save(st);
      return st;
    });
  }

  list(): ContainerState[] {
    if (!existsSync(this.dir)) return [];
    const out: ContainerState[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const st = this.load(name);
      if (st) out.push(st);
    }
    return out;
  }

  /**
   * Register a new container: name uniqueness is checked and the directory with its first
   * state document is created while holding the names lock.
   */
  create(st: ContainerState): void {
    if (st.name && !NAME_RE.test(st.name)) {
      throw new UserError(`Invalid container name (${st.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    mkdirp(this.dir, 0o700);
    withLock(this.namesLock, () => {
      const all = this.list();
      // An unnamed container gets a random name, picked under the same lock as the check.
      if (!st.name) st.name = unusedRandomName(new Set(all.map((c) => c.name)));
      const clash = all.find((c) => c.name === st.name);
      if (clash) {
        throw new UserError(
          `Conflict. The container name "/${st.name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      mkdirp(this.containerDir(st.id), 0o700);
      this.save(st);
    });
  }

  /** Find by full id, unique id prefix or name. */
  find(ref: string): ContainerState {
    const all = this.list();
    const byName = all.find((c) => c.name === ref || `/${c.name}` === ref);
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = all.filter((c) => c.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new UserError(`multiple containers match id prefix "${ref}": be more specific`);
    }
    throw new UserError(`No such container: ${ref}`);
  }

  /** Remove the container's directory; state goes first so a crash leaves no half entry. */
  remove(id: string): void {
    const dir = this.containerDir(id);
    removeTree(join(dir, "state.json"));
    removeTree(dir);
  }
}

function unusedRandomName(taken: Set<string>): string {
  for (let i = 0; i < 100; i++) {
    const n = randomName();
    if (!taken.has(n)) return n;
  }
  return `${randomName()}_${Date.now() % 1000}`;
}

/** Field 22 of /proc/PID/stat: the process start time, stable for the life of the PID. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/** True when the process recorded in state still runs (same PID and same start time, not a zombie). */
export function isProcessAlive(pid: number, start: string | undefined): boolean {
  if (!pid) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return false;
  return start === undefined || fields[19] === start;
}
