// `minid commit`: a container's changes become a new layer on top of its image's layers.
//
// The storage driver says where the changes are: a directory that is the diff (overlay's
// upper, whiteouts and opaque dirs in overlay spelling; aufs's branch), which writeLayerTar
// turns into an OCI layer tar, or none (vfs, overlay with redirect_dir/metacopy), and diff.ts
// compares the full tree with the layers.
// The tar is then applied with applyLayer into the layer store, so the stored layer is exactly
// what the tar says, and the blob, the layer and the image are published by rename.
//
// Not committed, as with docker: volume contents (bind mounts live only in the container's
// mount namespace) and what minid created only to mount over (empty /etc/hosts, /etc/hostname,
// /etc/resolv.conf files, empty /proc, /sys, /dev and volume mount point directories) when the
// image does not have them.
import { lstatSync, mkdirSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { liveState } from "../container/status.ts";
import { applyChange, emptyConfig, type ContainerConfig, type HistoryEntry, type ImageConfig } from "./config.ts";
import { layerRecordOf, type ImageRecord, type LayerRecord } from "./store.ts";
import { parseReference } from "./reference.ts";
import { UserError } from "../util/errors.ts";
import { removeTree } from "../util/fs.ts";
import { lgetxattr } from "../linux/libc.ts";
import { S_IFDIR, S_IFMT, S_IFREG, TreeDir, withEntryAt } from "../storage/safe-tree.ts";
import { withMergedView } from "./export.ts";
import { driverByName } from "../storage/select.ts";
import { diffIdOfLayerTree } from "../storage/layout.ts";

export interface CommitOptions {
  container: string;
  reference?: string;
  message?: string;
  author?: string;
  changes?: string[];
  /** Freeze a running container while its changes are read (docker's default). */
  pause?: boolean;
  /** An fd that also gets every byte of the new layer's tar, as it is written (save.ts commitAndSave). */
  teeFd?: number;
}

/** Files minid binds over and directories it mounts on, relative to the root. */
const ETC_MOUNTS = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];
const SYSTEM_MOUNTS = ["proc", "sys", "dev"];

type Exists = (rel: string) => boolean;

/** Whether `rel` exists in the merged view of overlay-form layers (lowest first). */
export function lowerExists(layers: string[]): Exists {
  return (rel: string) => {
    const parts = rel.split("/");
    for (let i = layers.length - 1; i >= 0; i--) {
      // Walk down this layer; a whiteout, opaque dir or non-dir on the way decides.
      let p = layers[i]!;
      let decided: boolean | undefined;
      for (let k = 0; k < parts.length; k++) {
        p = join(p, parts[k]!);
        let st: Stats;
        try {
          st = lstatSync(p);
        } catch {
          break;
        }
        if (st.isCharacterDevice() && st.rdev === 0) {
          decided = false;
          break;
        }
        if (k === parts.length - 1) {
          decided = true;
          break;
        }
        if (!st.isDirectory()) {
          decided = false;
          break;
        }
        if (lgetxattr(p, "trusted.overlay.opaque")?.toString() === "y") {
          // Deeper components must be in this layer or they do not exist.
          let q = p;
          let found = true;
          for (let m = k + 1; m < parts.length; m++) {
            q = join(q, parts[m]!);
            try {
              const s = lstatSync(q);
              if (s.isCharacterDevice() && s.rdev === 0) found = false;
              // A symlink on the way is not a directory: never look through it.
              else if (m < parts.length - 1 && !s.isDirectory()) found = false;
            } catch {
              found = false;
            }
            if (!found) break;
          }
          decided = found;
          break;
        }
      }
      if (decided !== undefined) return decided;
    }
    return false;
  };
}

/**
 * Paths in the container's layer that exist only because minid mounted over them: empty
 * files for /etc/hosts & co., empty directories for /proc, /sys, /dev, empty directories or
 * files for volume targets (and parents that hold nothing else), when the image lacks them.
 */
export function mountArtifacts(tree: string, mountTargets: string[], inLower: Exists): Set<string> {
  const out = new Set<string>();
  // The tree may be a running container's: read it through fds, never following its symlinks.
  const root = TreeDir.open(tree);
  const probe = (rel: string) =>
    withEntryAt(root, rel, (e) => {
      if (!e) return undefined;
      const fmt = e.st.mode & S_IFMT;
      if (fmt !== S_IFDIR) return { dir: false, file: fmt === S_IFREG, size: e.st.size, names: [] as string[] };
      const d = e.openDir();
      try {
        return { dir: true, file: false, size: 0, names: d.names().map((n) => Buffer.from(n, "latin1").toString("utf8")) };
      } finally {
        d.close();
      }
    });
  const consider = (rel: string, kind: "file" | "dir" | "any") => {
    const st = probe(rel);
    if (!st || inLower(rel)) return;
    if (kind === "any") kind = st.dir ? "dir" : "file";
    if (kind === "file" && !(st.file && st.size === 0)) return;
    if (kind === "dir") {
      if (!st.dir) return;
      if (!st.names.every((n) => out.has(`${rel}/${n}`))) return;
    }
    out.add(rel);
    // A parent created only to hold this mount point goes too.
    const parent = dirname(rel);
    if (parent !== "." && parent !== "/") consider(parent, "dir");
  };
  try {
    for (const f of ETC_MOUNTS) consider(f, "file");
    for (const d of SYSTEM_MOUNTS) consider(d, "dir");
    for (const t of mountTargets) consider(t, "any"); // a file volume's target is an empty file
  } finally {
    root.close();
  }
  return out;
}

/** The container's config as the new image's: docker commits what the container runs with. */
export function commitConfig(parent: ContainerConfig, st: ContainerState): ContainerConfig {
  const cfg: ContainerConfig = structuredClone(parent ?? {});
  const parentEnv = new Map((parent?.Env ?? []).map((e) => [e.split("=")[0]!, e] as const));
  const env = (st.config.env ?? []).filter((e) => {
    const k = e.split("=")[0]!;
    if (parentEnv.get(k) === e) return true;
    if (k === "HOSTNAME") return false; // set per container by the runtime
    if (k === "HOME" && !parentEnv.has("HOME") && e === "HOME=/root") return false;
    if (k === "TERM" && st.config.tty && !parentEnv.has("TERM") && e === "TERM=xterm") return false;
    return true;
  });
  if (env.length) cfg.Env = env;
  if (st.config.cmd !== undefined) cfg.Cmd = st.config.cmd && st.config.cmd.length ? st.config.cmd : null;
  if (st.config.entrypoint !== undefined) cfg.Entrypoint = st.config.entrypoint?.length ? st.config.entrypoint : null;
  if (st.config.cwd && !(st.config.cwd === "/" && !parent?.WorkingDir)) cfg.WorkingDir = st.config.cwd;
  if (st.config.user) cfg.User = st.config.user;
  return cfg;
}

/** Freeze the container's cgroup for the duration of fn, if it runs and has a freezer. */
async function frozen<T>(st: ContainerState, fn: () => Promise<T>): Promise<T> {
  const live = liveState(st);
  if (live.status !== "running") return fn();
  const paths = st.cgroupPaths;
  if (!paths) return fn();
  const { loadCgroup } = await import("../linux/cgroups.ts");
  const cg = loadCgroup(paths);
  let froze = false;
  try {
    if (!cg.isFrozen()) {
      cg.freeze();
      froze = true;
    }
  } catch {
    return fn(); // no freezer here: commit the live tree, as docker does without one
  }
  try {
    return await fn();
  } finally {
    if (froze) cg.thaw();
  }
}

export async function commitContainer(engine: Engine, opts: CommitOptions): Promise<ImageRecord> {
  const store = engine.images;
  if (opts.reference) {
    const ref = parseReference(opts.reference);
    if (ref.digest) throw new UserError(`refusing to create a tag with a digest reference: ${opts.reference}`);
  }
  const st = engine.containers.find(opts.container);
  const probe: ContainerConfig = {};
  for (const c of opts.changes ?? []) applyChange(probe, c); // bad --change: fail before any work
  if (st.state.status === "removing") throw new UserError(`container ${st.name} is being removed`);

  store.init();
  store.sweep();
  // The layers the container stacks are the parent: they are named by DiffID in the store.
  const parentLayers = st.storage.lowerdirs.map((d) => {
    const diffId = diffIdOfLayerTree(d);
    const rec = diffId ? store.getLayer(diffId) : undefined;
    if (!rec) throw new UserError(`the image layer ${diffId ?? d} of container ${st.name} is missing from the store`);
    return rec;
  });
  store.pin(parentLayers.flatMap((l) => [l.diffId, l.digest]));
  const parentImg = store.getImage(st.imageId);
  const parentCfg: ImageConfig = parentImg ? store.getConfig(parentImg) : emptyConfig();

  const staging = store.scratch("commit");
  const tarFile = `${staging}.tar`;
  try {
    const rec = await writeLayerOf(engine, st, staging, tarFile, opts.teeFd);

    const created = new Date().toISOString();
    const config: ImageConfig & { comment?: string; container?: string } = structuredClone(parentCfg);
    config.created = created;
    config.architecture ??= "amd64";
    config.os ??= "linux";
    config.config = commitConfig(parentCfg.config, st);
    for (const c of opts.changes ?? []) applyChange(config.config, c);
    if (opts.author) config.author = opts.author;
    else delete config.author;
    if (opts.message) config.comment = opts.message;
    else delete config.comment;
    config.container = st.id;
    config.rootfs = { type: "layers", diff_ids: [...parentLayers.map((l) => l.diffId), rec.diffId] };
    const entry: HistoryEntry = { created, created_by: [st.path, ...st.args].join(" ") };
    if (opts.author) entry.author = opts.author;
    if (opts.message) entry.comment = opts.message;
    config.history = [...(Array.isArray(parentCfg.history) ? parentCfg.history : []), entry];
    const layers = [...parentLayers, rec].map((l) => ({ diffId: l.diffId, digest: l.digest, mediaType: l.mediaType, size: l.compressedSize }));
    const [img] = store.publish({
      layers: [{ rec, blob: tarFile, dir: staging }],
      reuse: parentLayers.map((l) => l.diffId),
      images: [{ config, layers, tags: opts.reference ? [opts.reference] : [] }],
    });
    return img!;
  } finally {
    removeTree(staging);
    removeTree(tarFile);
  }
}

/**
 * The container's changes as a layer tar (`tarFile`) with an empty staging directory for its
 * unpacked tree; the caller publishes both and removes what is left.
 */
async function writeLayerOf(
  engine: Engine, st: ContainerState, staging: string, tarFile: string, teeFd?: number,
): Promise<LayerRecord> {
  const driver = driverByName(st.storage.driver);
  const source = driver.changes(engine.containers.containerDir(st.id));
  const inLower = lowerExists(st.storage.lowerdirs);
  const targets = st.mounts.map((m) => m.destination.replace(/^\/+/, "")).filter(Boolean);
  mkdirSync(staging, { mode: 0o700 });
  const { writeLayerTar } = await import("./layer-write.ts");
  const written = await frozen(st, async () => {
    if (source.kind === "upper") {
      const skip = mountArtifacts(source.dir, targets, inLower);
      for (const n of source.skip) skip.add(n);
      return writeLayerTar(source.dir, tarFile, { overlayWhiteouts: source.overlayWhiteouts, exclude: under(skip), teeFd });
    }
    return withMergedView(engine, st, async (root) => {
      const skip = mountArtifacts(root, targets, inLower);
      const { diffTree } = await import("./diff.ts");
      diffTree(root, st.storage.lowerdirs, join(staging, "changes"), { exclude: under(skip) });
      return writeLayerTar(join(staging, "changes"), tarFile, { overlayWhiteouts: true, teeFd });
    });
  });
  removeTree(join(staging, "changes"));

  // The new layer is stored as the tar just written; like a pulled one it is unpacked once,
  // when a container of the new image first needs it (store.ensureExtracted checks DiffID).
  return layerRecordOf({ ...written, compression: "none" });
}

/**
 * The container's changes as a new stored layer (published in one store operation, pinned
 * for this process). `build` makes each RUN and COPY step's layer with it.
 */
export async function writeContainerLayer(engine: Engine, st: ContainerState): Promise<LayerRecord> {
  const store = engine.images;
  const staging = store.scratch("commit");
  const tarFile = `${staging}.tar`;
  try {
    const rec = await writeLayerOf(engine, st, staging, tarFile);
    store.publish({ layers: [{ rec, blob: tarFile, dir: staging }], images: [] });
    return rec;
  } finally {
    removeTree(staging);
    removeTree(tarFile);
  }
}

/** An exclude predicate for a set of relative paths and everything under them. */
function under(set: Set<string>): ((rel: string) => boolean) | undefined {
  if (!set.size) return undefined;
  return (rel: string) => {
    // (The regexes only when there is something to strip: this runs once per file.)
    let r = rel;
    if (r.charCodeAt(0) === 0x2e || r.charCodeAt(0) === 0x2f) r = r.replace(/^\.?\/+/, "");
    if (r.charCodeAt(r.length - 1) === 0x2f) r = r.replace(/\/+$/, "");
    if (set.has(r)) return true;
    for (let i = r.indexOf("/"); i >= 0; i = r.indexOf("/", i + 1)) if (set.has(r.slice(0, i))) return true;
    return false;
  };
}
