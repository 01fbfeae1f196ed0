// The container state store: one JSON document per container, always replaced atomically,
// and a lock per container plus one for names so concurrent commands cannot corrupt state or
// hand one name to two containers. Every document is checked against one schema when read:
// a record that is truncated, empty or of the wrong shape is shown as a "dead" container
// (with the reason) that only `rm` accepts, and never takes another container down with it.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, constants } from "node:fs";
import { join } from "node:path";
import type { MountSpec } from "../spec/init-spec.ts";
import type { CgroupLimits, CgroupPaths } from "../linux/cgroups.ts";
import type { ContainerNetwork } from "../network/types.ts";
import { mkdirp, removeTree, withLock, writeJsonAtomic } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { NAME_RE, randomName } from "../util/ids.ts";
import { BadRecordError, any, arr, bool, nullable, num, obj, oneOf, parseRecord, record, str, type Schema } from "../util/schema.ts";
import { STATUSES, exitedState, type Status } from "./lifecycle.ts";
import { containerProc, isAlive } from "./proc.ts";
import type { RestartPolicy } from "./restart-policy.ts";
import type { HealthConfig } from "./health.ts";
import type { RunOptions } from "./run-options.ts";
export { processStartTime, isProcessAlive } from "./proc.ts";
export type { Status } from "./lifecycle.ts";

export interface SecurityConfig {
  capabilities: number[];
  noNewPrivileges: boolean;
  privileged: boolean;
  readOnlyRootfs: boolean;
  /** The default seccomp filter (off with --privileged or seccomp=unconfined). */
  seccomp?: boolean;
  /** --group-add, as given. */
  groupAdd?: string[];
  /** --cap-add, --cap-drop and --security-opt as given, for inspect's HostConfig. */
  asGiven?: { capAdd?: string[]; capDrop?: string[]; securityOpt?: string[] };
}

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
    /** The image's labels merged with --label/--label-file. */
    labels?: Record<string, string>;
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
    /** The exit was not seen (the watcher was gone): exitCode is a placeholder. */
    exitUnknown?: boolean;
    startedAt?: string;
    finishedAt?: string;
    oomKilled: boolean;
    error?: string;
    /** Kernel boot the pid belongs to: after a reboot no recorded pid is ours. */
    bootId?: string;
    /** The watcher (`minid _watcher`) that owns the running container's stdio and exit. */
    watcherPid?: number;
    watcherStart?: string;
    /** Restarts made by the restart policy since the last start the user asked for. */
    restartCount?: number;
    /** Stopped by `stop`/`kill`: the policy does not restart it (unless-stopped: not even after a reboot). */
    manuallyStopped?: boolean;
  };
  cgroupPaths?: CgroupPaths;
  /** Confinement chosen at create time; init applies it at every start. */
  security?: SecurityConfig;
  resources?: CgroupLimits;
  /** -p/-P/--expose (network/ports.ts); --dns* with the embedded resolver's upstreams. */
  ports?: import("../network/ports.ts").PortConfig;
  dns?: import("../network/options.ts").DnsConfig & { upstream?: string[] };
  extra?: Record<string, unknown>;
  /** --network and its endpoints (network/types.ts owns the shape). */
  network?: ContainerNetwork;
  /** --restart (absent: no). */
  restartPolicy?: RestartPolicy;
  /** What the healthcheck runs (--health-*, or the image's HEALTHCHECK). */
  healthcheck?: HealthConfig;
  /** --init, --ulimit, --device, --sysctl, --shm-size, --ipc/--pid/--uts, --log-driver, --oom-score-adj (container/run-options.ts). */
  runOptions?: RunOptions;
  /** Set (in memory only) on the stand-in for a record that could not be read: why. */
  broken?: string;
}

const strs = arr(str);

/** The one schema of a container's state.json. */
export const CONTAINER_SCHEMA: Schema<unknown> = obj(
  {
    id: str,
    name: str,
    image: str,
    imageId: str,
    created: str,
    path: str,
    args: strs,
    config: obj(
      { env: strs, cwd: str, hostname: str, tty: bool, interactive: bool },
      { user: str, entrypoint: nullable(strs), cmd: nullable(strs), labels: record(str) },
    ),
    mounts: arr(obj({ source: str, destination: str, readOnly: bool, type: oneOf("bind", "tmpfs") }, { options: str })),
    storage: obj({ driver: oneOf("overlay", "aufs", "vfs"), lowerdirs: strs }),
    autoRemove: bool,
    state: obj(
      { status: oneOf(...STATUSES.filter((s) => s !== "dead")), pid: num, exitCode: num, oomKilled: bool },
      {
        pidStart: str, exitUnknown: bool, startedAt: str, finishedAt: str, error: str, bootId: str, watcherPid: num, watcherStart: str,
        restartCount: num, manuallyStopped: bool,
      },
    ),
  },
  {
    cgroupPaths: obj({ version: oneOf("v1", "v2") }, { path: str, paths: record(str) }),
    security: obj({ capabilities: arr(num), noNewPrivileges: bool, privileged: bool, readOnlyRootfs: bool }, { seccomp: bool, groupAdd: strs, asGiven: obj({}, { capAdd: strs, capDrop: strs, securityOpt: strs }) }),
    resources: record(any),
    ports: obj({ exposed: strs, bindings: record(arr(obj({ HostIp: str, HostPort: str }))), publishAll: bool }),
    dns: obj({ servers: strs, search: strs, options: strs }, { upstream: strs }),
    extra: record(any),
    network: obj({ mode: str, endpoints: arr(obj({ networkId: str, networkName: str }, {})), extraHosts: strs }, {}),
    restartPolicy: obj({ name: oneOf("no", "always", "on-failure", "unless-stopped"), maximumRetryCount: num }),
    healthcheck: record(any),
    runOptions: record(any),
  },
);

const ID_RE = /^[a-f0-9]{64}$/;
const CREATING = ".creating-";
/** Bytes of the pre-allocated exit file (see recordExitInPlace). */
const EXIT_FILE_SIZE = 512;

/**
 * The stand-in for a record that cannot be read: status "dead" with the reason, what could be
 * salvaged from the text (name, image, created), and nothing else, so no start, exec or
 * state change can act on it; `rm` removes it.
 */
export function deadRecord(id: string, reason: string, text = "", created?: string): ContainerState {
  const field = (k: string) => new RegExp(`"${k}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(text)?.[1];
  const name = field("name");
  return {
    id,
    name: name && NAME_RE.test(name) ? name : "",
    image: field("image") ?? "",
    imageId: "",
    created: field("created") ?? created ?? new Date(0).toISOString(),
    path: "",
    args: [],
    config: { env: [], cwd: "/", hostname: "", tty: false, interactive: false },
    mounts: [],
    storage: { driver: "vfs", lowerdirs: [] },
    autoRemove: false,
    state: { status: "dead", pid: 0, exitCode: 0, oomKilled: false, error: reason },
    broken: reason,
  };
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

  /**
   * The container's record: undefined when there is no such container directory, a "dead"
   * stand-in (see deadRecord) when its state.json is missing or does not match the schema.
   * An exit the watcher could only keep in its exit file is applied, unless `raw`.
   */
  load(id: string, opts: { raw?: boolean } = {}): ContainerState | undefined {
    return loadRecordAt(this.containerDir(id), id, opts.raw);
  }

  save(st: ContainerState): void {
    // A stand-in must never replace what is left of the real record.
    if (st.broken) throw new UserError(`container ${st.id} has an unreadable record (${st.broken}): remove it with minid rm -f`);
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

  /** Every container, unreadable ones as "dead" stand-ins. */
  list(): ContainerState[] {
    if (!existsSync(this.dir)) return [];
    const out: ContainerState[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!ID_RE.test(name)) continue;
      const st = this.load(name);
      if (st) out.push(st);
    }
    return out;
  }

  /**
   * Register a new container: name uniqueness is checked and the directory is published
   * while holding the names lock. The directory is built aside (state and lock file) and
   * renamed into place, so a create that fails (a full disk) leaves nothing under an id.
   */
  create(st: ContainerState): void {
    if (st.name && !NAME_RE.test(st.name)) {
      throw new UserError(`Invalid container name (${st.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    mkdirp(this.dir, 0o700);
    withLock(this.namesLock, () => {
      const names = this.namesLocked();
      // An unnamed container gets a random name, picked under the same lock as the check.
      if (!st.name) st.name = unusedRandomName(new Set(names.keys()));
      const clash = names.get(st.name);
      if (clash) {
        throw new UserError(
          `Conflict. The container name "/${st.name}" is already in use by container "${clash}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      const staging = join(this.dir, `${CREATING}${st.id}-${process.pid}`);
      // The index entry goes first: a record is never there without it (a crash in between
      // leaves an entry without a directory, which readers take for an index not to be used).
      const entry = this.addNameEntry(st.name, st.id);
      try {
        mkdirp(staging, 0o700);
        // The lock file exists from the start: locking never needs space later (rm on a full disk).
        closeSync(openSync(join(staging, ".lock"), "w", 0o600));
        writeJsonAtomic(join(staging, "state.json"), st);
        renameSync(staging, this.containerDir(st.id));
      } catch (e) {
        removeTree(staging);
        unlinkQuiet(entry);
        throw e;
      }
    });
  }

  /** `rename`: a new unique name, checked and written under the names lock and the container's. */
  rename(id: string, name: string): void {
    if (!NAME_RE.test(name)) {
      throw new UserError(`Error when allocating new name: Invalid container name (/${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    withLock(this.namesLock, () => {
      const names = this.namesLocked();
      const clash = names.get(name);
      if (clash === id) throw new UserError("Renaming a container with the same name as its current name");
      if (clash) {
        throw new UserError(
          `Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${clash}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      // The record and its entry change in two steps: marked dirty across them, so an
      // interruption makes readers go by the records until the next create rebuilds the index.
      const dirty = this.markNamesDirty();
      let old = "";
      try {
        this.update(id, (st) => {
          old = st.name;
          st.name = name;
        });
      } catch (e) {
        unlinkQuiet(dirty); // the record is unchanged
        throw e;
      }
      unlinkQuiet(join(this.namesDir, nameEntry(old, id)));
      this.addNameEntry(name, id);
      unlinkSync(dirty);
    });
  }

  /** Find by full id, unique id prefix or name. */
  find(ref: string): ContainerState {
    // Docker's order: a full id, then a name, then a unique id prefix. A full id and an
    // indexed name each read one record; anything else reads them all.
    if (ID_RE.test(ref)) {
      const st = this.load(ref);
      if (st) return st;
    }
    const name = ref.startsWith("/") ? ref.slice(1) : ref;
    const id = name ? this.readNames()?.get(name) : undefined;
    if (id) {
      const st = this.load(id);
      if (st && st.name === name) return st;
    }
    // Not indexed (no such name, an id prefix) or indexed wrongly: the records decide.
    const all = this.list();
    const byName = all.find((c) => c.name && (c.name === ref || `/${c.name}` === ref));
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = all.filter((c) => c.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new UserError(`multiple containers match id prefix "${ref}": be more specific`);
    }
    throw new UserError(`No such container: ${ref}`);
  }

  /** Whether `ref` is a container's name or a prefix of ids (one or more): find without its errors. */
  matches(ref: string): boolean {
    try {
      this.find(ref);
      return true;
    } catch (e) {
      return e instanceof UserError && e.message.startsWith("multiple containers");
    }
  }

  // ---- the names index ----
  // <root>/containers/.names holds one empty file per container, named NAME:ID (a name never
  // has a ':'), so one readdir maps every name to its id: find by name and create's clash
  // check need not read every record (exec into one of 1,000 containers spent 30 ms loading
  // them all). The records stay the truth: find reads the record a name leads to and goes by
  // all records when it does not match or the name is not there. create trusts the index's
  // "free" only while its entries name exactly the container directories there are, one each,
  // and no change to it was interrupted (.dirty); anything else (a crash, records copied in by
  // hand, an older minid) makes it rebuild the index from the records under the names lock.

  private get namesDir(): string {
    return join(this.dir, ".names");
  }

  /** name → id of every named container, when the index can be trusted. */
  readNames(): Map<string, string> | undefined {
    let entries: string[];
    let dirs: string[];
    try {
      entries = readdirSync(this.namesDir);
      dirs = readdirSync(this.dir);
    } catch {
      return undefined;
    }
    const ids = dirs.filter((n) => ID_RE.test(n));
    // .dirty, or anything else that is not an entry, makes the counts disagree.
    if (entries.length !== ids.length) return undefined;
    const present = new Set(ids);
    const byName = new Map<string, string>();
    const indexed = new Set<string>();
    for (const e of entries) {
      const at = e.lastIndexOf(":");
      const id = e.slice(at + 1);
      if (at < 0 || !present.has(id) || indexed.has(id)) return undefined;
      indexed.add(id);
      if (at > 0) byName.set(e.slice(0, at), id);
    }
    return byName;
  }

  /** name → id of every container, from the index, rebuilt from the records if need be (names lock held). */
  private namesLocked(): Map<string, string> {
    const index = this.readNames();
    if (index) return index;
    const all = this.list();
    mkdirp(this.namesDir, 0o700);
    const dirty = this.markNamesDirty();
    const want = new Set(all.map((c) => nameEntry(c.name, c.id)));
    for (const e of readdirSync(this.namesDir)) if (e !== DIRTY && !want.has(e)) unlinkQuiet(join(this.namesDir, e));
    for (const e of want) touch(join(this.namesDir, e));
    unlinkSync(dirty);
    return new Map(all.filter((c) => c.name).map((c) => [c.name, c.id]));
  }

  private markNamesDirty(): string {
    return touch(join(this.namesDir, DIRTY));
  }

  private addNameEntry(name: string, id: string): string {
    return touch(join(this.namesDir, nameEntry(name, id)));
  }

  /** A container directory is gone (removal's tombstone rename): its entry goes too. */
  forgetName(id: string): void {
    let entries: string[];
    try {
      entries = readdirSync(this.namesDir);
    } catch {
      return;
    }
    for (const e of entries) if (e.endsWith(`:${id}`)) unlinkQuiet(join(this.namesDir, e));
  }

  /** Remove the container's directory; state goes first so a crash leaves no half entry. */
  remove(id: string): void {
    const dir = this.containerDir(id);
    removeTree(join(dir, "state.json"));
    removeTree(dir);
    this.forgetName(id);
  }

  /** Directories of creates that were interrupted (their process is gone). */
  abandonedCreates(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => n.startsWith(CREATING))
      .filter((n) => {
        const pid = Number(/-(\d+)$/.exec(n)?.[1]);
        return !(pid && pid !== process.pid && existsSync(`/proc/${pid}`));
      })
      .map((n) => join(this.dir, n));
  }
}

/** Read and check the record in `dir` (a container directory or a tombstone). */
export function loadRecordAt(dir: string, id: string, raw = false): ContainerState | undefined {
  const file = join(dir, "state.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e: any) {
    if (e?.code !== "ENOENT") return deadRecord(id, `cannot read state.json: ${e?.message ?? e}`);
    if (!existsSync(dir)) return undefined;
    return deadRecord(id, "state.json is missing (an interrupted create or remove)", "", mtimeOf(dir));
  }
  let st: ContainerState;
  try {
    st = parseRecord(CONTAINER_SCHEMA, text, "state.json") as ContainerState;
  } catch (e) {
    if (!(e instanceof BadRecordError)) throw e;
    return deadRecord(id, `state.json: ${e.reason}`, text, mtimeOf(dir));
  }
  if (st.id !== id) return deadRecord(id, `state.json names another container (${String(st.id).slice(0, 12)})`, text, mtimeOf(dir));
  const out = raw ? st : withExitInPlace(dir, st);
  // Where it was read from, in memory only (never saved): readers of files beside the record.
  Object.defineProperty(out, "dir", { value: dir, enumerable: false });
  return out;
}

/** The directory a loaded record was read from. */
export function recordDir(st: ContainerState): string | undefined {
  return (st as { dir?: string }).dir;
}

function mtimeOf(path: string): string | undefined {
  try {
    return statSync(path).mtime.toISOString();
  } catch {
    return undefined;
  }
}

// ---- the exit kept in a pre-allocated file ----
// The watcher records an exit by replacing state.json, which needs free space. On a full
// disk it writes the exit into exit.json instead: a file it allocated when the container
// started, overwritten in place, which needs no new block. The record is read through it
// until the watcher manages to write state.json again.

function exitFile(dir: string): string {
  return join(dir, "exit.json");
}

/** Allocate the exit file (when the container starts: space is needed now, not at the exit). */
export function preallocateExitFile(dir: string): void {
  const fd = openSync(exitFile(dir), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    writeSync(fd, Buffer.alloc(EXIT_FILE_SIZE, 0x20));
  } finally {
    closeSync(fd);
  }
}

/** Overwrite the pre-allocated exit file with `exit` (no new space needed); false when it cannot. */
export function recordExitInPlace(dir: string, exit: { pid: number; exitCode: number; oomKilled?: boolean; finishedAt: string }): boolean {
  const text = JSON.stringify(exit);
  if (text.length > EXIT_FILE_SIZE) return false;
  let fd: number;
  try {
    fd = openSync(exitFile(dir), constants.O_WRONLY);
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(EXIT_FILE_SIZE, 0x20);
    b.write(text);
    return writeSync(fd, b, 0, b.length, 0) === b.length;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

function withExitInPlace(dir: string, st: ContainerState): ContainerState {
  const s = st.state;
  if ((s.status !== "running" && s.status !== "paused") || isAlive(containerProc(st))) return st;
  let text: string;
  try {
    text = readFileSync(exitFile(dir), "utf8").trim();
  } catch {
    return st;
  }
  if (!text) return st;
  try {
    const e = JSON.parse(text) as { pid: number; exitCode: number; oomKilled?: boolean; finishedAt: string };
    if (e.pid !== s.pid || typeof e.exitCode !== "number") return st;
    return { ...st, state: exitedState(s, e) };
  } catch {
    return st; // torn mid-write: the watcher's next attempt settles it
  }
}

const DIRTY = ".dirty";

function nameEntry(name: string, id: string): string {
  return `${name}:${id}`;
}

/** An empty file (an index entry or the marker), made if missing; returns its path. */
function touch(path: string): string {
  closeSync(openSync(path, "a", 0o600));
  return path;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

function unusedRandomName(taken: Set<string>): string {
  for (let i = 0; i < 100; i++) {
    const n = randomName();
    if (!taken.has(n)) return n;
  }
  return `${randomName()}_${Date.now() % 1000}`;
}

