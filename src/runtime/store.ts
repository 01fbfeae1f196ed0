// Where the runtime keeps its containers: <root>/<id>/ holds state.json (the record below),
// config.json (the config as create read it, for hooks run at delete) and, between create
// and start, exec.fifo (init blocks opening it until `start` opens the other end, as runc).
// What a record means now (creating / created / running / paused / stopped) is observed from
// the kernel, never trusted from the file: init's PID with its start time, the fifo, freezer.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RuntimeError } from "./errors.ts";
import type { Config } from "./config.ts";

export const DEFAULT_ROOT = "/run/minid-runtime";

export interface CgroupDirs {
  version: "v1" | "v2";
  /** controller → directory on v1; "" → the one directory on v2. */
  dirs: { [k: string]: string };
  /** Directories this container made (removed at delete), deepest last. */
  created: string[];
}

export interface Record {
  id: string;
  bundle: string;
  rootfs: string;
  /** Host PID of init (0 while creating). */
  pid: number;
  /** Field 22 of /proc/PID/stat when recorded: a reused PID is not our process. */
  pidStart: string;
  created: string;
  annotations: { [k: string]: string };
  cgroup?: CgroupDirs;
  /** "creating" until create finished; then the observed state decides. */
  phase: "creating" | "created";
  owner: string;
  /** The create process (pid and start time): a create that died mid-way leaves "stopped". */
  creator?: { pid: number; start: string };
}

export type Status = "creating" | "created" | "running" | "paused" | "stopped";

export const ID_RE = /^[\w+\-.]+$/;

export function checkId(id: string | undefined): string {
  if (!id) throw new RuntimeError("container id cannot be empty");
  if (!ID_RE.test(id) || id === "." || id === "..") throw new RuntimeError(`invalid container id format: ${id}`);
  return id;
}

export class Store {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  /** Claim the id: the directory is made exclusively, so two creates cannot both win. */
  claim(id: string): string {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const d = this.dir(id);
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e: any) {
      if (e?.code === "EEXIST") throw new RuntimeError(`container with id exists: ${id}`);
      throw e;
    }
    return d;
  }

  write(r: Record): void {
    const f = join(this.dir(r.id), "state.json");
    writeFileSync(f + ".tmp", JSON.stringify(r));
    renameSync(f + ".tmp", f);
  }

  read(id: string): Record | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "state.json"), "utf8")) as Record;
    } catch {
      return undefined;
    }
  }

  /** The record or runc's "does not exist" error. */
  get(id: string): Record {
    checkId(id);
    const r = this.read(id);
    if (!r) throw new RuntimeError(`container does not exist`);
    return r;
  }

  config(id: string): Config | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "config.json"), "utf8")) as Config;
    } catch {
      return undefined;
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.root).filter((n) => ID_RE.test(n) && existsSync(join(this.root, n, "state.json"))).sort();
    } catch {
      return [];
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  fifo(id: string): string {
    return join(this.dir(id), "exec.fifo");
  }

  status(r: Record): Status {
    if (r.phase === "creating" && r.creator && !processAlive(r.creator.pid, r.creator.start)) return "stopped";
    if (r.phase === "creating" && !r.pid) return "creating";
    if (!processAlive(r.pid, r.pidStart)) return "stopped";
    if (r.phase === "creating") return "creating";
    if (existsSync(this.fifo(r.id))) return "created";
    if (r.cgroup && frozen(r.cgroup)) return "paused";
    return "running";
  }
}

/** Field 22 (start time) of /proc/PID/stat, or "" if the process is gone. */
export function pidStartTime(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    if (rest[0] === "Z" || rest[0] === "X") return "";
    return rest[19] ?? "";
  } catch {
    return "";
  }
}

export function processAlive(pid: number, start: string): boolean {
  if (!pid) return false;
  const s = pidStartTime(pid);
  return s !== "" && s === start;
}

function frozen(cg: CgroupDirs): boolean {
  try {
    if (cg.version === "v2") return readFileSync(join(cg.dirs[""]!, "cgroup.freeze"), "utf8").trim() === "1";
    const f = cg.dirs.freezer;
    return f ? readFileSync(join(f, "freezer.state"), "utf8").trim() === "FROZEN" : false;
  } catch {
    return false;
  }
}

/** The spec's State (runtime.md "State"), as `state` prints and hooks read on stdin. */
export function stateJson(r: Record, status: Status): object {
  const s: { [k: string]: unknown } = { ociVersion: "1.0.2", id: r.id, status, pid: status === "stopped" ? 0 : r.pid, bundle: r.bundle };
  s.rootfs = r.rootfs;
  s.created = r.created;
  s.owner = r.owner;
  if (Object.keys(r.annotations).length) s.annotations = r.annotations;
  return s;
}
