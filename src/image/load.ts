// `minid load`: docker-archive (legacy `<id>/layer.tar` and Docker 25+ blobs) and OCI image
// layout archives, plain or compressed, one or several images each.
//
// Order of work, so that bad input changes nothing and a crash leaves nothing half-visible:
//   1. stream the archive into a scratch index (names checked, every file hashed);
//   2. read manifests and configs, check every digest the archive states;
//   3. extract each layer the store lacks into a scratch dir and check its DiffID;
//   4. only then publish: blobs and layers by rename, images, tags.
import { createReadStream } from "node:fs";
import { isatty } from "node:tty";
import { join } from "node:path";
import type { Engine } from "../engine.ts";
import type { ImageConfig } from "./config.ts";
import { MEDIA, hexOf, layerRecordOf, type LayerRecord } from "./store.ts";
import { ArchiveIndex, indexArchive } from "./archive.ts";
import { parseReference, parseTagReference, tagKey } from "./reference.ts";
import { UserError } from "../util/errors.ts";
import { removeTree } from "../util/fs.ts";

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** One image as an archive describes it, before anything is checked against content. */
export interface ArchiveImage {
  /** Entry name of the config document. */
  config: string;
  /** Digest the archive claims for the config (from a blob name or a descriptor). */
  configDigest?: string;
  /** Entry names of the layer blobs, lowest first. */
  layers: string[];
  /** Digests the archive claims for the layer blobs as stored (OCI descriptors). */
  layerDigests?: (string | undefined)[];
  tags: string[];
}

/** The digest a docker-archive entry name states: blobs/sha256/<hex> or legacy <hex>.json. */
export function digestFromName(name: string): string | undefined {
  const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.json$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** docker-archive manifest.json → images. */
export function parseDockerManifest(doc: unknown): ArchiveImage[] {
  if (!Array.isArray(doc)) throw new UserError("invalid archive: manifest.json is not a list of images");
  return doc.map((m: any, i) => {
    if (!m || typeof m !== "object" || typeof m.Config !== "string" || !isStringArray(m.Layers)) {
      throw new UserError(`invalid archive: manifest.json entry ${i + 1} needs Config and Layers`);
    }
    if (m.RepoTags != null && !isStringArray(m.RepoTags)) {
      throw new UserError(`invalid archive: manifest.json entry ${i + 1} has invalid RepoTags`);
    }
    return {
      config: m.Config,
      configDigest: digestFromName(m.Config),
      layers: m.Layers,
      layerDigests: m.Layers.map((l: string) => (/(?:^|\/)blobs\/sha256\/[a-f0-9]{64}$/.test(l) ? digestFromName(l) : undefined)),
      tags: m.RepoTags ?? [],
    };
  });
}

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);

/**
 * The name an OCI index entry gives its image: containerd's full name (Docker 25+ writes it
 * next to a tag-only ref.name), else `org.opencontainers.image.ref.name`, which skopeo and
 * podman write as given (`oci-archive:f.tar:name:tag` → "name:tag"). A ref.name without a
 * repository ("oci-archive:f.tar:2" → "2") is read as podman and Docker's reference grammar
 * read it: a repository name, tag latest ("2:latest"). A ref.name that is no reference at
 * all (OCI allows any string) names nothing: the image loads untagged.
 */
export function nameFromAnnotations(a: Record<string, string> | undefined): string | undefined {
  if (!a) return undefined;
  const full = a["io.containerd.image.name"];
  if (full) return full;
  const ref = a["org.opencontainers.image.ref.name"];
  if (!ref) return undefined;
  if (/[/:@]/.test(ref)) return ref;
  try {
    parseTagReference(`${ref}:latest`, "index.json");
    return `${ref}:latest`;
  } catch {
    return undefined;
  }
}

/**
 * OCI image layout (index.json + blobs) → images. `blob(digest)` reads a JSON blob. Indexes
 * (nested or multi-platform) are followed to the linux/amd64 manifest.
 */
export function parseOciIndex(index: unknown, blob: (digest: string) => any): ArchiveImage[] {
  const top = index as any;
  if (!top || typeof top !== "object" || !Array.isArray(top.manifests)) {
    throw new UserError("invalid archive: index.json has no manifests list");
  }
  const byManifest = new Map<string, ArchiveImage>();
  const pick = (desc: any, depth: number): any => {
    if (!desc || typeof desc.digest !== "string" || !DIGEST_RE.test(desc.digest)) {
      throw new UserError("invalid archive: index.json has a descriptor without a valid digest");
    }
    if (depth > 4) throw new UserError("invalid archive: indexes nest too deeply");
    const doc = blob(desc.digest);
    const mt = doc?.mediaType ?? desc.mediaType;
    if (INDEX_TYPES.has(mt) || (Array.isArray(doc?.manifests) && !doc?.config)) {
      const list: any[] = Array.isArray(doc.manifests) ? doc.manifests : [];
      const want =
        list.find((d) => d?.platform?.os === "linux" && d?.platform?.architecture === "amd64") ??
        (list.length === 1 ? list[0] : undefined);
      if (!want) throw new UserError(`invalid archive: index ${desc.digest} has no linux/amd64 image`);
      return pick(want, depth + 1);
    }
    if (!MANIFEST_TYPES.has(mt) && !(doc?.config && Array.isArray(doc?.layers))) {
      throw new UserError(`invalid archive: ${desc.digest} is not an image manifest (media type ${mt})`);
    }
    return { digest: desc.digest, doc };
  };
  for (const desc of top.manifests) {
    const { digest, doc } = pick(desc, 0);
    let img = byManifest.get(digest);
    if (!img) {
      if (!doc.config || typeof doc.config.digest !== "string" || !DIGEST_RE.test(doc.config.digest) || !Array.isArray(doc.layers)) {
        throw new UserError(`invalid archive: manifest ${digest} has no valid config or layers`);
      }
      for (const l of doc.layers) {
        if (!l || typeof l.digest !== "string" || !DIGEST_RE.test(l.digest)) {
          throw new UserError(`invalid archive: manifest ${digest} has a layer without a valid digest`);
        }
      }
      img = {
        config: `blobs/sha256/${hexOf(doc.config.digest)}`,
        configDigest: doc.config.digest,
        layers: doc.layers.map((l: any) => `blobs/sha256/${hexOf(l.digest)}`),
        layerDigests: doc.layers.map((l: any) => l.digest),
        tags: [],
      };
      byManifest.set(digest, img);
    }
    const name = nameFromAnnotations(desc.annotations);
    if (name && !img.tags.includes(name)) img.tags.push(name);
  }
  return [...byManifest.values()];
}

/** The images an indexed archive holds: manifest.json first (it carries tags), else index.json. */
export function archiveImages(ix: ArchiveIndex): ArchiveImage[] {
  if (ix.has("manifest.json")) {
    const images = parseDockerManifest(ix.json("manifest.json"));
    // Docker 25+ writes an OCI index too: its names count as well (an image manifest.json
    // lists without RepoTags may be named there), as long as the index is readable.
    if (ix.has("index.json")) {
      let named: ArchiveImage[] = [];
      try {
        named = parseOciIndex(ix.json("index.json"), (d) => ix.json(`blobs/sha256/${hexOf(d)}`, `blob ${d}`));
      } catch {
        /* the legacy manifest is what docker-archive readers use; an odd index adds nothing */
      }
      for (const img of images) {
        const digest = img.configDigest ?? ix.get(img.config)?.digest;
        for (const o of named) {
          if (o.configDigest !== digest) continue;
          for (const t of o.tags) if (!img.tags.some((x) => sameTag(x, t))) img.tags.push(t);
        }
      }
    }
    return images;
  }
  if (ix.has("index.json")) {
    return parseOciIndex(ix.json("index.json"), (d) => ix.json(`blobs/sha256/${hexOf(d)}`, `blob ${d}`));
  }
  throw new UserError("invalid archive: no manifest.json or index.json (not a docker-archive or OCI layout)");
}

function sameTag(a: string, b: string): boolean {
  try {
    return tagKey(parseReference(a)) === tagKey(parseReference(b));
  } catch {
    return a === b;
  }
}

export interface LoadOptions {
  /** A path, or "-" for stdin. */
  input: string;
  quiet?: boolean;
}

/** Check that every file whose name states a digest has that digest. */
function verifyNamedBlobs(ix: ArchiveIndex): void {
  for (const f of ix.files.values()) {
    const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(f.name);
    if (m && f.digest !== `sha256:${m[1]}`) {
      throw new UserError(`digest mismatch: archive entry ${f.name} has content ${f.digest}`);
    }
  }
}

interface Prepared {
  raw: Buffer;
  config: ImageConfig;
  id: string;
  tags: string[];
  layers: { diffId: string; entry: string }[];
}

function prepareImage(ix: ArchiveIndex, a: ArchiveImage, n: number): Prepared {
  const cfgFile = ix.get(a.config);
  if (!cfgFile) throw new UserError(`invalid archive: config ${a.config} of image ${n} is missing`);
  const raw = ix.raw(a.config, `config ${a.config}`);
  if (a.configDigest && cfgFile.digest !== a.configDigest) {
    throw new UserError(`digest mismatch: config ${a.config} has content ${cfgFile.digest}, expected ${a.configDigest}`);
  }
  let config: ImageConfig;
  try {
    config = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new UserError(`invalid archive: config ${a.config} is not valid JSON`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!isStringArray(diffIds) || !diffIds.every((d) => DIGEST_RE.test(d))) {
    throw new UserError(`invalid archive: config ${a.config} has no valid rootfs.diff_ids`);
  }
  if (diffIds.length !== a.layers.length) {
    throw new UserError(
      `invalid archive: image ${n} lists ${a.layers.length} layers but its config has ${diffIds.length} diff_ids`,
    );
  }
  a.layers.forEach((l, i) => {
    const f = ix.get(l);
    if (!f) throw new UserError(`invalid archive: layer ${l} of image ${n} is missing`);
    const want = a.layerDigests?.[i];
    if (want && f.digest !== want) {
      throw new UserError(`digest mismatch: layer ${l} has content ${f.digest}, expected ${want}`);
    }
  });
  const tags = a.tags.map((t) => tagKey(parseTagReference(t, `image ${n} of the archive`)));
  return { raw, config, id: cfgFile.digest, tags, layers: a.layers.map((entry, i) => ({ diffId: diffIds[i]!, entry })) };
}


export async function loadImages(engine: Engine, opts: LoadOptions): Promise<string[]> {
  const store = engine.images;
  store.init();
  store.sweep();
  let source: AsyncIterable<Uint8Array>;
  if (opts.input === "-") {
    if (isatty(0)) throw new UserError("requested load from stdin, but stdin is a terminal: use -i FILE or redirect");
    source = process.stdin;
  } else {
    try {
      const { statSync } = await import("node:fs");
      if (statSync(opts.input).isDirectory()) throw new UserError(`${opts.input} is a directory; load takes an archive file`);
    } catch (e: any) {
      if (e instanceof UserError) throw e;
      throw new UserError(`open ${opts.input}: ${e?.code === "ENOENT" ? "no such file or directory" : (e?.code ?? e?.message)}`);
    }
    source = createReadStream(opts.input, { highWaterMark: 1 << 20 });
  }
  const scratch = store.scratch("load");
  const staged: string[] = [];
  let ix: ArchiveIndex | undefined;
  try {
    ix = await indexArchive(source, join(scratch, "archive"));
    verifyNamedBlobs(ix);
    const images = archiveImages(ix).map((a, i) => prepareImage(ix!, a, i + 1));
    if (!images.length) throw new UserError("invalid archive: it holds no image");

    // Extract the layers the store lacks; every DiffID checked before anything is published.
    const { applyLayer, LayerError } = await import("./layer-apply.ts");
    const fresh = new Map<string, { dir: string; rec: LayerRecord; blob: string }>();
    const known = new Set<string>();
    for (const img of images) {
      for (const l of img.layers) {
        if (fresh.has(l.diffId) || known.has(l.diffId)) continue;
        const have = store.getLayer(l.diffId);
        if (have) {
          store.pin([have.diffId, have.digest]); // then check again: a gc may have run meanwhile
          if (store.hasLayer(l.diffId)) {
            known.add(l.diffId);
            continue;
          }
        }
        const file = ix.get(l.entry)!;
        const dir = join(scratch, `layer-${fresh.size}`);
        staged.push(dir);
        const { mkdirSync } = await import("node:fs");
        mkdirSync(dir, { mode: 0o700 });
        let res;
        try {
          res = await applyLayer(file.path, join(dir, "diff"));
        } catch (e) {
          if (e instanceof LayerError) throw new UserError(`invalid layer ${l.entry}: ${e.message}`);
          throw e;
        }
        if (res.diffId !== l.diffId) {
          throw new UserError(`digest mismatch: layer ${l.entry} has DiffID ${res.diffId}, the config says ${l.diffId}`);
        }
        fresh.set(l.diffId, { dir, blob: file.path, rec: layerRecordOf(res) });
      }
    }

    // Publish in one store operation: pins, blobs, layers, then each image and its tags.
    const lines: string[] = [];
    const tagsNow = store.tags();
    for (const img of images) {
      for (const t of img.tags) {
        const old = tagsNow[t];
        if (old && old !== img.id) {
          lines.push(`The image ${t} already exists, renaming the old one with ID ${old} to empty string`);
        }
        tagsNow[t] = img.id;
        lines.push(`Loaded image: ${t}`);
      }
      if (!img.tags.length) lines.push(`Loaded image ID: ${img.id}`);
    }
    store.publish({
      layers: [...fresh.values()].map((f) => ({ rec: f.rec, blob: f.blob, dir: f.dir })),
      reuse: [...known],
      images: images.map((img) => ({
        config: img.config,
        rawConfig: img.raw,
        expectId: img.id,
        tags: img.tags,
        layers: () =>
          img.layers.map((l) => {
            const rec = store.getLayer(l.diffId);
            if (!rec) throw new Error(`layer ${l.diffId} vanished from the store during load`);
            return { diffId: rec.diffId, digest: rec.digest, mediaType: rec.mediaType, size: rec.compressedSize };
          }),
      })),
    });
    return lines;
  } finally {
    ix?.cleanup();
    removeTree(scratch);
  }
}
