// The volume store: `<root>/volumes/NAME/_data` is what containers mount, `volume.json` next
// to it what `volume inspect` shows. Which containers use a volume is never stored: it is read
// from the containers' records every time, so a crash at any point (a killed create, rm or
// watcher) can never leave a count that is wrong; at worst an unused volume stays, which
// `volume ls -f dangling=true` shows and `volume prune` removes.
//
// A volume appears by rename of a finished directory (metadata written first) and goes by
// rename to a tombstone, so nobody ever sees half of one. Every change to the set of volumes,
// and every container create that picks volumes, holds the store's lock, so `volume rm` cannot
// remove a volume that a container being created is about to reference.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { mkdirp, removeTree, withLock, withLockAsync, writeJsonAtomic } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { BadRecordError, bool, nullable, obj, parseRecord, record, str } from "../util/schema.ts";
import { newId } from "../util/ids.ts";

export interface VolumeRecord {
  name: string;
  /** RFC 3339, as Docker prints a volume's CreatedAt. */
  createdAt: string;
  /** null (Docker's "Labels": null) when none were given. */
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  /** Made for one container (`-v /path`, an image's VOLUME): removed with it by `rm -v`/`--rm`. */
  anonymous: boolean;
}

const SCHEMA = obj({ name: str, createdAt: str, labels: nullable(record(str)), options: nullable(record(str)), anonymous: bool });

/** Docker's rule for a local volume's name. */
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const TOMB = ".removing-";
const STAGE = ".creating-";

export class VolumeStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, "volumes");
  }

  volumeDir(name: string): string {
    return join(this.dir, name);
  }
  dataDir(name: string): string {
    return join(this.dir, name, "_data");
  }

  /** Hold the store's lock (create, remove, and container creates that pick volumes). */
  withLock<T>(fn: () => T): T {
    return withLock(join(this.dir, ".lock"), fn);
  }
  withLockAsync<T>(fn: () => Promise<T>): Promise<T> {
    return withLockAsync(join(this.dir, ".lock"), fn);
  }

  get(name: string): VolumeRecord | undefined {
    if (!VOLUME_NAME_RE.test(name)) return undefined;
    const dir = this.volumeDir(name);
    if (!existsSync(dir)) return undefined;
    let rec: VolumeRecord | undefined;
    try {
      const file = join(dir, "volume.json");
      rec = parseRecord(SCHEMA, readFileSync(file, "utf8"), file) as VolumeRecord;
    } catch (e: any) {
      if (!(e instanceof BadRecordError) && e?.code !== "ENOENT") throw e;
    }
    // A record lost to a crash or a full disk: the directory is still the volume.
    if (!rec || rec.name !== name) {
      let created = new Date(0);
      try {
        created = statSync(dir).mtime;
      } catch {}
      rec = { name, createdAt: rfc3339(created), labels: null, options: null, anonymous: /^[a-f0-9]{64}$/.test(name) };
    }
    return rec;
  }

  list(): VolumeRecord[] {
    if (!existsSync(this.dir)) return [];
    const out: VolumeRecord[] = [];
    for (const n of readdirSync(this.dir).sort()) {
      if (n.startsWith(".")) continue;
      const v = this.get(n);
      if (v) out.push(v);
    }
    return out;
  }

  /**
   * Make a volume (called under the lock). An existing one is returned as it is (`created`
   * false), as Docker's `volume create` of an existing name succeeds.
   */
  create(opts: { name?: string; labels?: Record<string, string>; anonymous?: boolean; explicit?: boolean }): { volume: VolumeRecord; created: boolean } {
    const name = opts.name ?? newId();
    if (/^[a-zA-Z0-9]$/.test(name)) throw new UserError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
    if (!VOLUME_NAME_RE.test(name)) {
      throw new UserError(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const existing = this.get(name);
    if (existing) {
      // A directory that lost its _data to a crash mid-copy-up gets an empty one back.
      if (!existsSync(this.dataDir(name))) mkdirp(this.dataDir(name));
      return { volume: existing, created: false };
    }
    mkdirp(this.dir, 0o701);
    const volume: VolumeRecord = {
      name,
      createdAt: rfc3339(new Date()),
      labels: opts.explicit ? (opts.labels ?? {}) : opts.labels && Object.keys(opts.labels).length ? opts.labels : null,
      options: opts.explicit ? {} : null,
      anonymous: Boolean(opts.anonymous),
    };
    const stage = join(this.dir, `${STAGE}${newId().slice(0, 12)}`);
    mkdirSync(stage, { mode: 0o701 });
    try {
      mkdirSync(join(stage, "_data"), { mode: 0o755 });
      writeJsonAtomic(join(stage, "volume.json"), volume, 0o600);
      renameSync(stage, this.volumeDir(name));
    } catch (e) {
      removeTree(stage);
      throw e;
    }
    this.announce("create", name);
    return { volume, created: true };
  }

  /** Remove a volume (called under the lock, after the caller checked nobody uses it). */
  remove(name: string): void {
    const tomb = join(this.dir, `${TOMB}${name}-${newId().slice(0, 8)}`);
    renameSync(this.volumeDir(name), tomb);
    removeTree(tomb);
    this.announce("destroy", name);
  }

  private announce(action: string, name: string): void {
    const { recordEvent } = require("../events/journal.ts") as typeof import("../events/journal.ts");
    recordEvent(join(this.dir, ".."), { Type: "volume", Action: action, id: name, attributes: { driver: "local" } });
  }

  /** Finish removals and creates that a crash cut short (call under the lock). */
  sweep(): void {
    if (!existsSync(this.dir)) return;
    for (const n of readdirSync(this.dir)) {
      if (n.startsWith(TOMB) || n.startsWith(STAGE)) {
        removeTree(join(this.dir, n));
        continue;
      }
      // a copy-up whose process died (mounts.ts names them .copyup-PID-…)
      let inner: string[] = [];
      try {
        inner = readdirSync(join(this.dir, n));
      } catch {}
      for (const x of inner) {
        const pid = /^\.copyup-(\d+)-/.exec(x)?.[1];
        if (pid && !alive(Number(pid))) removeTree(join(this.dir, n, x));
      }
    }
  }

  /** Bytes under a volume's data (for `system df -v` and prune's reclaimed space). */
  size(name: string): number {
    return treeSize(this.dataDir(name));
  }
}

/** Disk usage of a tree, counting each inode once; symlinks are not followed. */
export function treeSize(path: string, seen = new Set<string>()): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return 0;
  }
  const { lstatSync } = require("node:fs") as typeof import("node:fs");
  for (const n of names) {
    const p = join(path, n);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (st.isDirectory()) total += treeSize(p, seen);
    else total += st.size;
  }
  return total;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: any) {
    return e?.code === "EPERM";
  }
}

/** Go's time.RFC3339 in UTC, as Docker prints a volume's CreatedAt. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}
