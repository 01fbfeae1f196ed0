// The image store: content-addressed blobs, layers extracted once and keyed by DiffID, images
// keyed by the digest of their config, and tags pointing at images.
//
//   <root>/image/blobs/sha256/<hex>          configs, manifests and layer blobs as received
//   <root>/image/layers/<diffid-hex>/diff/   a layer's tree, overlay-ready (whiteouts converted)
//   <root>/image/layers/<diffid-hex>/layer.json
//   <root>/image/images/<config-hex>.json    image record: config digest, layer descriptors
//   <root>/image/repositories.json           tag → image id
//
// A directory or file becomes visible under its final name only by rename, so a crash leaves
// temp names that `sweep()` removes; nothing half-written is ever used.
import { existsSync, readdirSync, renameSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ImageConfig } from "./config.ts";
import { mkdirp, readJson, removeTree, writeFileAtomic, writeJsonAtomic, withLock } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { BadRecordError, arr, num, obj, parseRecord, str, type Schema } from "../util/schema.ts";
import { familiarName, parseReference, tagKey, type Reference } from "./reference.ts";
import { LAYER_TREE, layerHome, layerNameOf, layerTreeDir } from "../storage/layout.ts";

export interface LayerRecord {
  diffId: string;
  /** Digest and media type of the blob as stored (may be compressed). */
  digest: string;
  mediaType: string;
  /** Uncompressed tar size. */
  size: number;
  compressedSize: number;
  created: string;
}

export interface ImageRecord {
  id: string; // sha256:<config digest hex>
  configDigest: string;
  layers: { diffId: string; digest: string; mediaType: string; size: number }[];
  created: string;
  /** Digest of the manifest this image was pulled or pushed as, per repository. */
  repoDigests?: string[];
}

/** The one schema of an image record (images/<hex>.json), checked whenever one is read. */
const IMAGE_SCHEMA: Schema<ImageRecord> = obj(
  {
    id: str,
    configDigest: str,
    layers: arr(obj({ diffId: str, digest: str, mediaType: str, size: num })),
    created: str,
  },
  { repoDigests: arr(str) },
);
const LAYER_SCHEMA = obj({ diffId: str, digest: str, mediaType: str, size: num }, { compressedSize: num, created: str }) as Schema<LayerRecord>;

/** An image whose record cannot be read: listed apart, removable with rmi -f. */
export interface UnreadableImage {
  id: string;
  reason: string;
}

export type PublishStep = "pinned" | "blobs" | "layers" | "image" | "tagged";

/** What publish() adds to the store. */
export interface Publication {
  /** New layers: a verified blob file to adopt and/or a staging dir (holding diff/) to commit. */
  layers: { rec: LayerRecord; blob?: string; dir?: string }[];
  /** DiffIDs of layers already in the store that the images stack. */
  reuse?: string[];
  images: {
    config: ImageConfig;
    /** The image's layers, or a function giving them once the new layers are committed. */
    layers: ImageRecord["layers"] | (() => ImageRecord["layers"]);
    rawConfig?: Uint8Array;
    repoDigests?: string[];
    tags?: (Reference | string)[];
    /** The id the config must hash to (load, pull): a mismatch is an internal error. */
    expectId?: string;
  }[];
}

export const MEDIA = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** The record of a layer just applied by applyLayer (its blob stored as received). */
export function layerRecordOf(res: {
  diffId: string;
  digest: string;
  size: number;
  compressedSize: number;
  compression: "none" | "gzip" | "zstd";
}): LayerRecord {
  const mediaType = { none: MEDIA.ociLayer, gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd }[res.compression];
  return {
    diffId: res.diffId,
    digest: res.digest,
    mediaType,
    size: res.size,
    compressedSize: res.compressedSize,
    created: new Date().toISOString(),
  };
}

export function hexOf(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new UserError(`invalid digest "${digest}"`);
  return m[1]!;
}

export function sha256(data: string | Uint8Array): string {
  // Bun's hasher, not node:crypto: that import costs ~8 ms on every command's start.
  return "sha256:" + new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

export class ImageStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, "image");
  }

  private get blobsDir() {
    return join(this.dir, "blobs", "sha256");
  }
  private get layersDir() {
    return join(this.dir, "layers");
  }
  private get imagesDir() {
    return join(this.dir, "images");
  }
  get tmpDir() {
    return join(this.dir, "tmp");
  }
  private get reposFile() {
    return join(this.dir, "repositories.json");
  }
  private get lockFile() {
    return join(this.dir, "lock");
  }

  init(): void {
    for (const d of [this.blobsDir, this.layersDir, this.imagesDir, this.tmpDir]) mkdirp(d, 0o700);
  }

  /** Serialise store mutations across processes. */
  locked<T>(fn: () => T): T {
    this.init();
    return withLock(this.lockFile, fn);
  }

  /** Remove leftovers of interrupted writers (only those whose process is gone). */
  sweep(): void {
    if (!existsSync(this.tmpDir)) return;
    for (const name of readdirSync(this.tmpDir)) {
      const pid = Number(/-(\d+)-/.exec(name)?.[1]);
      if (pid && pid !== process.pid && isAlive(pid)) continue;
      if (pid === process.pid) continue;
      removeTree(join(this.tmpDir, name));
    }
  }

  /**
   * Keep layers/blobs (digests) alive against a concurrent gc until this process exits: a
   * writer pins what it publishes or reuses before the image that references it exists.
   * The pin file carries our pid, so sweep() drops it once we are gone.
   */
  pin(digests: string[]): void {
    const hexes = digests.map(hexOf).filter((h) => !this.pinned.has(h));
    if (!hexes.length) return;
    for (const h of hexes) this.pinned.add(h);
    this.init();
    this.pinFile ??= this.scratch("pin");
    writeFileAtomic(this.pinFile, [...this.pinned].join("\n") + "\n", 0o600);
  }
  private pinned = new Set<string>();
  private pinFile?: string;

  /** Digests pinned by live processes (ours included). */
  private livePins(): Set<string> {
    const out = new Set<string>();
    if (!existsSync(this.tmpDir)) return out;
    for (const name of readdirSync(this.tmpDir)) {
      if (!name.startsWith("pin-")) continue;
      const pid = Number(/-(\d+)-/.exec(name)?.[1]);
      if (pid !== process.pid && !isAlive(pid)) continue;
      try {
        for (const h of readFileSync(join(this.tmpDir, name), "utf8").split("\n")) if (h) out.add(h);
      } catch {}
    }
    return out;
  }

  /** Layer directories that containers stack (they must outlive a force-removed image). */
  private containerLayers(): Set<string> {
    const out = new Set<string>();
    const dir = join(dirname(this.dir), "containers");
    if (!existsSync(dir)) return out;
    for (const id of readdirSync(dir)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      let st: { storage?: { lowerdirs?: string[] } } | undefined;
      try {
        st = readJson(join(dir, id, "state.json"));
      } catch {
        continue; // being created or removed
      }
      for (const d of st?.storage?.lowerdirs ?? []) out.add(layerNameOf(d));
    }
    return out;
  }

  /** Remove layers and blobs that no image, container or live writer needs. */
  gc(): void {
    this.locked(() => void this.gcLocked());
  }

  /** A fresh scratch path under tmp/ that sweep() recognises by its pid. */
  scratch(label: string): string {
    this.init();
    return join(this.tmpDir, `${label}-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`);
  }

  // ---- blobs ----
  blobPath(digest: string): string {
    return join(this.blobsDir, hexOf(digest));
  }
  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }
  putBlob(data: string | Uint8Array): string {
    const digest = sha256(data);
    const path = this.blobPath(digest);
    if (!existsSync(path)) {
      this.init();
      writeFileAtomic(path, data, 0o644);
    }
    return digest;
  }
  /** Move a file whose digest the caller verified into the blob store. */
  adoptBlob(file: string, digest: string): void {
    const path = this.blobPath(digest);
    if (existsSync(path)) removeTree(file);
    else renameSync(file, path);
  }
  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }

  // ---- layers ----
  layerDir(diffId: string): string {
    return layerHome(this.layersDir, diffId);
  }
  layerDiffDir(diffId: string): string {
    return layerTreeDir(this.layersDir, diffId);
  }
  isExtracted(diffId: string): boolean {
    return existsSync(this.layerDiffDir(diffId));
  }

  /**
   * Unpack layers that were stored as verified blobs only (pull): each once, from its blob,
   * checked against its DiffID, published by rename. Two commands racing on one layer both
   * unpack; the first rename wins and the other copy is dropped.
   */
  async ensureExtracted(diffIds: string[]): Promise<void> {
    for (const diffId of diffIds) {
      if (this.isExtracted(diffId)) continue;
      const rec = this.getLayer(diffId);
      if (!rec) throw new UserError(`layer ${diffId} is not in the store: pull the image again`);
      const staging = this.scratch("unpack");
      try {
        mkdirp(staging, 0o700);
        const { applyLayer } = await import("./layer-apply.ts");
        const res = await applyLayer(this.blobPath(rec.digest), join(staging, LAYER_TREE));
        if (res.diffId !== diffId) throw new UserError(`layer ${rec.digest} unpacks to ${res.diffId}, not its DiffID ${diffId}: pull the image again`);
        this.locked(() => {
          if (!existsSync(join(this.layerDir(diffId), "layer.json"))) {
            throw new UserError(`layer ${diffId} was removed while it was being unpacked`);
          }
          if (this.isExtracted(diffId)) return;
          renameSync(join(staging, LAYER_TREE), this.layerDiffDir(diffId));
          // pull recorded a size hint; the unpacked tar's is exact
          if (rec.size !== res.size) writeJsonAtomic(join(this.layerDir(diffId), "layer.json"), { ...rec, size: res.size });
        });
      } finally {
        removeTree(staging);
      }
    }
  }

  /** A layer's record; undefined when missing or unreadable (the layer is then pulled or loaded again). */
  getLayer(diffId: string): LayerRecord | undefined {
    const r = this.readRecord(join(this.layerDir(diffId), "layer.json"), LAYER_SCHEMA);
    return r instanceof BadRecordError ? undefined : r;
  }
  hasLayer(diffId: string): boolean {
    return existsSync(join(this.layerDir(diffId), "layer.json"));
  }
  /**
   * Publish an extracted layer: `staging` holds `diff/`; it becomes layers/<diffid> by one
   * rename, or is discarded when another writer already published the same layer.
   */
  commitLayer(staging: string, rec: LayerRecord): LayerRecord {
    writeJsonAtomic(join(staging, "layer.json"), rec);
    this.pin([rec.diffId, rec.digest]);
    return this.locked(() => {
      const final = this.layerDir(rec.diffId);
      if (existsSync(join(final, "layer.json"))) {
        removeTree(staging);
        return this.getLayer(rec.diffId)!;
      }
      if (existsSync(final)) removeTree(final); // incomplete leftover
      renameSync(staging, final);
      return rec;
    });
  }

  // ---- images ----
  private imageFile(id: string): string {
    return join(this.imagesDir, `${hexOf(id)}.json`);
  }
  /** An image's record; undefined when there is none, a UserError when it cannot be read. */
  getImage(id: string): ImageRecord | undefined {
    const r = this.readImage(id);
    if (r instanceof BadRecordError) {
      throw new UserError(`the record of image ${id} is unreadable (${r.reason}): remove it with minid rmi -f ${id}`);
    }
    return r;
  }

  private readImage(id: string): ImageRecord | BadRecordError | undefined {
    const r = this.readRecord(this.imageFile(id), IMAGE_SCHEMA);
    if (r && !(r instanceof BadRecordError) && r.id !== id) return new BadRecordError(this.imageFile(id), `it names another image (${r.id})`);
    return r;
  }

  /** Read and check a JSON record: undefined when absent, the error when unreadable. */
  private readRecord<T>(path: string, schema: Schema<T>): T | BadRecordError | undefined {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e: any) {
      if (e?.code === "ENOENT") return undefined;
      return new BadRecordError(path, e?.message ?? String(e));
    }
    try {
      return parseRecord(schema, text, path);
    } catch (e) {
      if (e instanceof BadRecordError) return e;
      throw e;
    }
  }

  /** Image records that cannot be read (listImages leaves them out). */
  unreadableImages(): UnreadableImage[] {
    const out: UnreadableImage[] = [];
    for (const id of this.imageIds()) {
      const r = this.readImage(id);
      if (r instanceof BadRecordError) out.push({ id, reason: r.reason });
    }
    return out;
  }

  /**
   * Delete an image record (unreadable, or on a full disk), then the tags that point at it:
   * deleting frees space, and rewriting the tag file may need some.
   */
  removeUnreadable(id: string): string[] {
    const lines: string[] = [];
    // The record first: deleting frees space, and the tag file may need some to be rewritten.
    this.deleteImage(id);
    for (const t of this.tagsOf(id)) {
      this.removeTag(t);
      lines.push(`Untagged: ${t}`);
    }
    lines.push(`Deleted: ${id}`);
    return lines;
  }

  private imageIds(): string[] {
    if (!existsSync(this.imagesDir)) return [];
    return readdirSync(this.imagesDir)
      .filter((n) => /^[a-f0-9]{64}\.json$/.test(n))
      .map((n) => `sha256:${n.slice(0, 64)}`);
  }
  getConfig(img: ImageRecord): ImageConfig {
    return JSON.parse(this.readBlob(img.configDigest).toString("utf8"));
  }
  /** Store an image whose layers are already present. Returns its id. */
  createImage(config: ImageConfig, layers: ImageRecord["layers"], repoDigests?: string[], rawConfig?: Uint8Array): ImageRecord {
    // rawConfig: the config exactly as received (its digest is the image id), e.g. by load.
    const raw = rawConfig ?? JSON.stringify(config);
    for (const l of layers) {
      if (!this.hasLayer(l.diffId)) throw new Error(`layer ${l.diffId} is not in the store`);
    }
    return this.locked(() => {
      const configDigest = this.putBlob(raw);
      const old = this.getImage(configDigest);
      const rec: ImageRecord = {
        id: configDigest,
        configDigest,
        layers,
        created: config.created ?? new Date().toISOString(),
        repoDigests: [...new Set([...(old?.repoDigests ?? []), ...(repoDigests ?? [])])],
      };
      writeJsonAtomic(this.imageFile(configDigest), rec);
      return rec;
    });
  }
  /** Every readable image (see unreadableImages for the others). */
  listImages(): ImageRecord[] {
    const out: ImageRecord[] = [];
    for (const id of this.imageIds()) {
      const r = this.readImage(id);
      if (r && !(r instanceof BadRecordError)) out.push(r);
    }
    return out;
  }

  // ---- tags ----
  tags(): Record<string, string> {
    // Written only by rename, so a crash cannot truncate it; a bad file was edited or its
    // disk failed. No command can guess the tags back: say so, and how to go on.
    let t: unknown;
    try {
      t = readJson<unknown>(this.reposFile);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new UserError(`the tag list ${this.reposFile} is corrupt (${e.message}): restore it, or remove it to start with no tags (the images stay; \`minid images -a\` lists them by id)`);
    }
    if (t === undefined) return {};
    if (typeof t !== "object" || t === null || Array.isArray(t) || Object.values(t).some((v) => typeof v !== "string")) {
      throw new UserError(`the tag list ${this.reposFile} is not a map of tags to image ids: restore it, or remove it to start with no tags`);
    }
    return t as Record<string, string>;
  }
  tagsOf(id: string): string[] {
    return Object.entries(this.tags())
      .filter(([, v]) => v === id)
      .map(([k]) => k)
      .sort();
  }
  setTag(ref: Reference | string, id: string): void {
    const key = typeof ref === "string" ? tagKey(parseReference(ref)) : tagKey(ref);
    this.locked(() => {
      const t = this.tags();
      t[key] = id;
      writeJsonAtomic(this.reposFile, t);
    });
  }
  removeTag(key: string): void {
    this.locked(() => {
      const t = this.tags();
      delete t[key];
      writeJsonAtomic(this.reposFile, t);
    });
  }

  /**
   * Find an image by name[:tag], full id, "sha256:"-prefixed id or unique id prefix (>= 4 hex).
   * Returns undefined when nothing matches; throws when a prefix is ambiguous.
   */
  resolve(name: string): ImageRecord | undefined {
    if (!name.startsWith("sha256:")) {
      let ref: Reference | undefined;
      try {
        ref = parseReference(name);
      } catch (e) {
        if (!/^[a-f0-9]{4,64}$/.test(name)) throw e;
      }
      if (ref?.digest) {
        // name@digest names a manifest: only an image pulled or pushed as exactly that matches.
        const want = `${familiarName(ref)}@${ref.digest}`;
        return this.listImages().find((i) => i.repoDigests?.includes(want));
      }
      const id = ref && this.tags()[tagKey(ref)];
      if (id) return this.getImage(id);
    }
    const hex = name.replace(/^sha256:/, "");
    if (!/^[a-f0-9]{4,64}$/.test(hex)) return undefined;
    const matches = this.listImages().filter((i) => hexOf(i.id).startsWith(hex));
    if (matches.length > 1) throw new UserError(`image id prefix "${name}" is ambiguous`);
    return matches[0];
  }

  /** Lowest-first list of layer trees an image stacks. */
  layerDirs(img: ImageRecord): string[] {
    return img.layers.map((l) => this.layerDiffDir(l.diffId));
  }

  /**
   * Delete an image record (tags must already be gone) and every layer/blob no image needs.
   * Returns the DiffIDs of the layers that went with it (rmi prints them as Docker does).
   */
  deleteImage(id: string): string[] {
    return this.locked(() => {
      removeTree(this.imageFile(id));
      return this.gcLocked();
    });
  }

  /** Replace an image's repo digests (rmi drops those of a repository whose last tag went). */
  setRepoDigests(id: string, repoDigests: string[]): void {
    this.locked(() => {
      const rec = this.getImage(id);
      if (rec) writeJsonAtomic(this.imageFile(id), { ...rec, repoDigests });
    });
  }

  private gcLocked(): string[] {
    const images = this.listImages();
    const pins = this.livePins();
    const inContainers = this.containerLayers();
    const liveLayers = new Set<string>([...pins, ...inContainers]);
    const liveBlobs = new Set<string>(pins);
    // A container keeps its layers' blobs too: commit/save of it after a forced rmi need them.
    for (const name of inContainers) {
      const rec = this.getLayer(`sha256:${name}`);
      if (rec && /^sha256:[a-f0-9]{64}$/.test(rec.digest)) liveBlobs.add(hexOf(rec.digest));
    }
    for (const img of images) {
      liveBlobs.add(hexOf(img.configDigest));
      for (const l of img.layers) {
        liveLayers.add(hexOf(l.diffId));
        liveBlobs.add(hexOf(l.digest));
      }
    }
    const removed: string[] = [];
    for (const name of existsSync(this.layersDir) ? readdirSync(this.layersDir) : []) {
      if (liveLayers.has(name)) continue;
      removeTree(join(this.layersDir, name));
      if (/^[a-f0-9]{64}$/.test(name)) removed.push(`sha256:${name}`);
    }
    for (const name of existsSync(this.blobsDir) ? readdirSync(this.blobsDir) : []) {
      if (!liveBlobs.has(name)) removeTree(join(this.blobsDir, name));
    }
    return removed;
  }

  // ---- publishing ----

  /**
   * Test seam: called after each step of publish() (a crash test kills the process there, a
   * gc test runs a concurrent gc there). Never set outside tests.
   */
  publishHook?: (step: PublishStep) => void;

  /**
   * The one way images enter the store (commit, import, load, pull, build). In this order:
   *  1. pin every layer and blob the images will reference, new and reused, so a concurrent
   *     rmi/gc keeps them from now until this process exits;
   *  2. check that the reused layers are still there (a gc may have run before the pin);
   *  3. adopt the new blobs, 4. commit the new layers (each by rename);
   *  5. write each image record (with its config blob), then 6. its tags.
   * A crash after any step leaves a consistent store: what was published is complete, the rest
   * is unreferenced (gc removes it once the pins' process is gone) or a temp name sweep() drops.
   */
  publish(p: Publication): ImageRecord[] {
    const step = (s: PublishStep) => this.publishHook?.(s);
    const reused = p.reuse ?? [];
    const keep: string[] = [];
    for (const l of p.layers) keep.push(l.rec.diffId, l.rec.digest);
    for (const d of reused) {
      keep.push(d);
      const have = this.getLayer(d);
      if (have) keep.push(have.digest);
    }
    for (const img of p.images) if (Array.isArray(img.layers)) for (const l of img.layers) keep.push(l.diffId, l.digest);
    this.pin(keep);
    step("pinned");
    for (const d of reused) {
      if (!this.hasLayer(d)) throw new UserError(`layer ${d} was removed from the store meanwhile: try again`);
    }
    for (const l of p.layers) if (l.blob) this.adoptBlob(l.blob, l.rec.digest);
    step("blobs");
    for (const l of p.layers) if (l.dir) this.commitLayer(l.dir, l.rec);
    step("layers");
    const out: ImageRecord[] = [];
    for (const img of p.images) {
      const layers = typeof img.layers === "function" ? img.layers() : img.layers;
      this.pin(layers.flatMap((l) => [l.diffId, l.digest]));
      const rec = this.createImage(img.config, layers, img.repoDigests, img.rawConfig);
      if (img.expectId && rec.id !== img.expectId) throw new Error(`stored config digest ${rec.id} differs from ${img.expectId}`);
      step("image");
      for (const t of img.tags ?? []) this.setTag(t, rec.id);
      step("tagged");
      out.push(rec);
    }
    return out;
  }

  /** Bytes an image's layers take once unpacked (what `images` shows as SIZE). */
  imageSize(img: ImageRecord): number {
    return img.layers.reduce((n, l) => n + (this.getLayer(l.diffId)?.size ?? l.size), 0);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: any) {
    return e?.code === "EPERM";
  }
}

