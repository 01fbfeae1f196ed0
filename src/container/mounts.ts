// A new container's mounts: what -v, --mount, --tmpfs, --volumes-from and the image's VOLUME
// list add up to (Docker's precedence: the user's mounts over --volumes-from over the image's
// volumes; two of the user's on one path is an error), the volumes they name made in the store,
// and a new, empty volume filled with what the image has at that path (Docker's copy-up).
import { readdirSync, renameSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import type { MountSpec } from "../spec/init-spec.ts";
import { UserError } from "../util/errors.ts";
import { VolumeStore } from "../volume/store.ts";
import { checkDuplicates, parseMount, parseTmpfs, parseVolume, parseVolumesFrom, type MountRequest } from "./volumes.ts";
import { newId } from "../util/ids.ts";

export interface MountFlags {
  volumes: string[];
  mounts?: string[];
  tmpfs: string[];
  volumesFrom?: string[];
}

export interface ParsedMounts {
  requests: MountRequest[];
  tmpfs: MountSpec[];
  volumesFrom: { ref: string; mode?: "ro" | "rw" }[];
}

/** Every check that needs nothing but the words: before anything is created. */
export function parseMountFlags(f: MountFlags): ParsedMounts {
  const requests = [...f.volumes.map(parseVolume), ...(f.mounts ?? []).map(parseMount)];
  const tmpfs = f.tmpfs.map(parseTmpfs);
  checkDuplicates([...requests, ...tmpfs]);
  return { requests, tmpfs, volumesFrom: (f.volumesFrom ?? []).map(parseVolumesFrom) };
}

export function volumeStore(engine: Engine): VolumeStore {
  return new VolumeStore(engine.root);
}

/**
 * The mount list of a new container, with its volumes made (call under the volume store's lock,
 * and register the container before releasing it, so `volume rm` sees it as a user). Returns
 * the volumes to fill from the image.
 */
export function resolveMounts(
  engine: Engine,
  p: ParsedMounts,
  imageVolumes: string[],
): { mounts: MountSpec[]; copyUp: { volume: string; destination: string }[] } {
  const vs = volumeStore(engine);
  const byDest = new Map<string, MountSpec>();
  const copyUp: { volume: string; destination: string }[] = [];
  const useVolume = (name: string | undefined, anonymous: boolean, labels?: Record<string, string>) => {
    const { volume } = vs.create({ name, anonymous, labels });
    return volume;
  };
  const wantCopy = (m: MountSpec) => copyUp.push({ volume: m.volume!, destination: m.destination });
  // 1. the image's VOLUME list, 2. --volumes-from, 3. the user's own (each over what came before).
  const explicit = new Set([...p.requests.map((r) => r.destination), ...p.tmpfs.map((t) => t.destination)]);
  const fromOthers: MountSpec[] = [];
  for (const vf of p.volumesFrom) {
    const src = engine.containers.find(vf.ref);
    for (const m of src.mounts) {
      if (m.type !== "bind") continue; // tmpfs mounts are the container's own
      fromOthers.push({
        ...m,
        readOnly: vf.mode ? vf.mode === "ro" : m.readOnly,
        origin: "volumes-from",
        // The volume stays the other container's: only its own rm -v removes it.
        anonymous: m.anonymous,
      });
    }
  }
  const fromDest = new Set(fromOthers.map((m) => m.destination));
  for (const d of imageVolumes) {
    const dest = d.replace(/\/+$/, "") || "/";
    if (dest === "/" || explicit.has(dest) || fromDest.has(dest) || byDest.has(dest)) continue;
    const v = useVolume(undefined, true);
    const m: MountSpec = { type: "bind", source: vs.dataDir(v.name), destination: dest, readOnly: false, volume: v.name, anonymous: true, origin: "image", mode: "" };
    byDest.set(dest, m);
    wantCopy(m);
  }
  for (const m of fromOthers) byDest.set(m.destination, m);
  for (const r of p.requests) {
    if (r.type === "bind") {
      byDest.set(r.destination, {
        type: "bind", source: r.source, destination: r.destination, readOnly: r.readOnly,
        propagation: r.propagation, mode: r.mode, origin: r.origin, spec: r.spec,
      });
      continue;
    }
    if (r.type === "tmpfs") {
      byDest.set(r.destination, { type: "tmpfs", source: "tmpfs", destination: r.destination, readOnly: r.readOnly, options: r.options, origin: r.origin, spec: r.spec });
      continue;
    }
    const v = useVolume(r.source || undefined, !r.source);
    const m: MountSpec = {
      type: "bind", source: vs.dataDir(v.name), destination: r.destination, readOnly: r.readOnly, volume: v.name,
      anonymous: !r.source || undefined, mode: r.mode, origin: r.origin, spec: r.spec,
    };
    byDest.set(r.destination, m);
    if (!r.noCopy) copyUp.push({ volume: v.name, destination: r.destination });
  }
  for (const t of p.tmpfs) byDest.set(t.destination, { ...t, origin: "tmpfs-flag" });
  return { mounts: [...byDest.values()], copyUp };
}

/** Host directories of `-v` binds: a missing one is made, as Docker does; `--mount` needs it to exist. */
export function prepareBindSources(mounts: MountSpec[]): void {
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  for (const m of mounts) {
    if (m.type !== "bind" || m.volume) continue;
    if (existsSync(m.source)) continue;
    if (m.origin === "mount-flag") throw new UserError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    mkdirSync(m.source, { recursive: true, mode: 0o755 });
  }
}

/**
 * Fill each empty volume with what the image has at its destination: owners, modes, times,
 * xattrs, devices and links kept, symlinks copied as symlinks. The path is resolved inside the
 * image's root (RESOLVE_IN_ROOT: a symlink `/data -> /etc` copies the image's /etc, never the
 * host's) and the tree is read through fds (storage/safe-tree.ts); what is copied goes to a
 * scratch directory beside the volume's data first and is moved in at the end, under the
 * store's lock, only if the volume is still empty.
 */
export async function copyUpVolumes(engine: Engine, st: ContainerState, list: { volume: string; destination: string }[]): Promise<void> {
  if (!list.length) return;
  const vs = volumeStore(engine);
  const pending = list.filter((c) => isEmptyDir(vs.dataDir(c.volume)));
  if (!pending.length) return;
  const { withMergedView } = await import("../image/export.ts");
  const libc = await import("../linux/libc.ts");
  const { TreeDir } = await import("../storage/safe-tree.ts");
  const { TreeCopier } = await import("../storage/tree-copy.ts");
  await withMergedView(engine, st, async (root) => {
    const rootFd = libc.openat(libc.AT_FDCWD, root, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC);
    try {
      for (const c of pending) {
        let srcFd: number;
        try {
          srcFd = libc.openat2(
            rootFd, c.destination.replace(/^\/+/, ""), libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC,
            libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS,
          );
        } catch (e) {
          if (e instanceof libc.SyscallError && (e.code === "ENOENT" || e.code === "ENOTDIR")) continue; // nothing there to copy
          throw e;
        }
        const src = TreeDir.fromFd(srcFd, libc.statxAt(srcFd, null));
        // The pid in the name lets a later sweep tell a crashed copy-up from a live one.
        const stage = join(vs.volumeDir(c.volume), `.copyup-${process.pid}-${newId().slice(0, 8)}`);
        const copier = new TreeCopier({ keepOwner: true, xattrs: true });
        try {
          mkdirSync(stage, { mode: 0o700 });
          const stageFd = libc.openat(libc.AT_FDCWD, stage, libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC);
          try {
            copier.copyChildren(src, stageFd);
          } finally {
            libc.close(stageFd);
          }
          vs.withLock(() => {
            const data = vs.dataDir(c.volume);
            if (!isEmptyDir(data)) return; // another container filled it meanwhile
            for (const n of readdirSync(stage)) renameSync(join(stage, n), join(data, n));
            // The volume's root takes the directory's owner and mode, as Docker's copy does.
            libc.lchown(data, src.st.uid, src.st.gid);
            libc.chmod(data, src.st.mode & 0o7777);
          });
        } finally {
          copier.close();
          src.close();
          rmSync(stage, { recursive: true, force: true });
        }
      }
    } finally {
      libc.close(rootFd);
    }
  });
}

function isEmptyDir(p: string): boolean {
  try {
    return readdirSync(p).length === 0;
  } catch {
    return false;
  }
}

/** Containers (any state) whose mounts use the volume `name`. */
export function volumeUsers(engine: Engine, name: string): ContainerState[] {
  return engine.containers.list().filter((c) => c.mounts.some((m) => m.volume === name));
}

/**
 * Remove the anonymous volumes a removed container made (`rm -v`, `--rm`), unless another
 * container uses them too (--volumes-from). Named volumes always stay.
 */
export function removeAnonymousVolumes(root: string, st: ContainerState, listOthers: () => ContainerState[]): void {
  const names = st.mounts.filter((m) => m.volume && m.anonymous && m.origin !== "volumes-from").map((m) => m.volume!);
  if (!names.length) return;
  const vs = new VolumeStore(root);
  vs.withLock(() => {
    const others = listOthers();
    for (const n of names) {
      if (others.some((c) => c.id !== st.id && c.mounts.some((m) => m.volume === n))) continue;
      if (vs.get(n)) vs.remove(n);
    }
  });
}
