// What the `volume` commands do: create, list with Docker's filters, inspect, remove (refused
// while any container, running or not, uses the volume), prune. Who uses a volume is read from
// the container records each time (see store.ts).
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { UserError } from "../util/errors.ts";
import { VolumeStore, type VolumeRecord } from "./store.ts";

export function volumes(engine: Engine): VolumeStore {
  return new VolumeStore(engine.root);
}

/** Containers (any state) using each volume, by name. */
export function usersByVolume(engine: Engine): Map<string, ContainerState[]> {
  const m = new Map<string, ContainerState[]>();
  for (const c of engine.containers.list()) {
    for (const mt of c.mounts) {
      if (!mt.volume) continue;
      const l = m.get(mt.volume) ?? [];
      if (!l.includes(c)) l.push(c);
      m.set(mt.volume, l);
    }
  }
  return m;
}

/** `KEY=VALUE` (or `KEY`) words of --label into a map. */
export function parseLabels(words: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf("=");
    const k = i < 0 ? w : w.slice(0, i);
    if (!k) throw new UserError(`invalid label '${w}': empty name`);
    out[k] = i < 0 ? "" : w.slice(i + 1);
  }
  return out;
}

export function createVolume(engine: Engine, name: string | undefined, labels: Record<string, string>, driver = "local", opts: string[] = []): VolumeRecord {
  if (driver !== "local") throw new UserError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
  if (opts.length) throw new UserError(`create ${name ?? ""}: the local driver of minid takes no options (-o ${opts[0]}): it makes plain directories`.replace("create : ", "create: "));
  const vs = volumes(engine);
  // Docker's CLI sends empty maps: an explicitly made volume has {} where an implicit one has null.
  return vs.withLock(() => vs.create({ name, labels, explicit: true }).volume);
}

export function getVolume(engine: Engine, name: string): VolumeRecord {
  const v = volumes(engine).get(name);
  if (!v) throw new UserError(`get ${name}: no such volume`);
  return v;
}

/** Docker's filters of `volume ls` / `volume prune`: dangling, name, label (label!=), driver; values of one key are alternatives, different keys must all hold. */
export function volumeFilter(filters: string[]): (v: VolumeRecord, users: number) => boolean {
  const groups = new Map<string, ((v: VolumeRecord, users: number) => boolean)[]>();
  const add = (k: string, t: (v: VolumeRecord, users: number) => boolean) => groups.set(k, [...(groups.get(k) ?? []), t]);
  for (const f of filters) {
    const i = f.indexOf("=");
    if (i < 0) throw new UserError(`bad format of filter (expected name=value)`);
    let key = f.slice(0, i);
    const value = f.slice(i + 1);
    const negate = key.endsWith("!");
    if (negate) key = key.slice(0, -1);
    if (key === "dangling") {
      const want = /^(true|1)$/i.test(value) ? true : /^(false|0)$/i.test(value) ? false : undefined;
      if (want === undefined) throw new UserError(`invalid filter 'dangling=${value}'`);
      add(key, (_v, users) => (users === 0) === want);
    } else if (key === "name") {
      add(key, (v) => v.name.includes(value));
    } else if (key === "driver") {
      add(key, () => value === "local");
    } else if (key === "label") {
      const j = value.indexOf("=");
      const lk = j < 0 ? value : value.slice(0, j);
      const lv = j < 0 ? undefined : value.slice(j + 1);
      const has = (v: VolumeRecord) => Boolean(v.labels && lk in v.labels && (lv === undefined || v.labels[lk] === lv));
      // label filters must all hold (Docker's label matching), label! excludes
      add(`${key}${negate ? "!" : ""}:${value}`, negate ? (v) => !has(v) : has);
    } else if (key === "all") {
      add(key, () => true);
    } else {
      throw new UserError(`invalid filter '${key}'`);
    }
  }
  return (v, users) => [...groups.values()].every((alts) => alts.some((t) => t(v, users)));
}

export function listVolumes(engine: Engine, filters: string[]): { volume: VolumeRecord; users: number }[] {
  const vs = volumes(engine);
  // Under the lock: a create in progress (which holds it) is never taken for a crashed one.
  vs.withLock(() => vs.sweep());
  const test = volumeFilter(filters);
  const users = usersByVolume(engine);
  return vs
    .list()
    .map((volume) => ({ volume, users: users.get(volume.name)?.length ?? 0 }))
    .filter((x) => test(x.volume, x.users));
}

/** Docker's `volume inspect` document. */
export function inspectVolume(engine: Engine, v: VolumeRecord): Record<string, unknown> {
  // Docker 20.10 (the daemon the tests compare with) marks anonymous volumes with no label.
  const labels = v.labels;
  return {
    CreatedAt: v.createdAt,
    Driver: "local",
    Labels: labels,
    Mountpoint: volumes(engine).dataDir(v.name),
    Name: v.name,
    Options: v.options,
    Scope: "local",
  };
}

/** `volume rm`: refused (exit 1, kept) while a container uses it; -f makes a missing one no error. */
export function removeVolume(engine: Engine, name: string, force: boolean): void {
  const vs = volumes(engine);
  vs.withLock(() => {
    if (!vs.get(name)) {
      if (force) return;
      throw new UserError(`No such volume: ${name}`);
    }
    const users = usersByVolume(engine).get(name) ?? [];
    if (users.length) throw new UserError(`remove ${name}: volume is in use - [${users.map((c) => c.id).join(", ")}]`);
    vs.remove(name);
  });
}

/** `volume prune`: unused anonymous volumes, or with `all` every unused one. */
export function pruneVolumes(engine: Engine, all: boolean, filters: string[]): { deleted: string[]; reclaimed: number } {
  const vs = volumes(engine);
  const test = volumeFilter(filters);
  const deleted: string[] = [];
  let reclaimed = 0;
  vs.withLock(() => {
    vs.sweep();
    const users = usersByVolume(engine);
    for (const v of vs.list()) {
      if (users.get(v.name)?.length) continue;
      if (!all && !v.anonymous) continue;
      if (!test(v, 0)) continue;
      reclaimed += vs.size(v.name);
      vs.remove(v.name);
      deleted.push(v.name);
    }
  });
  return { deleted, reclaimed };
}
