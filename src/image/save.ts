// `minid save` (and `commit -o`): images as a tar that `docker load`, `podman load` and skopeo
// read, laid out as Docker 25+ writes it: the legacy `manifest.json` + `repositories` and an
// OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) over the same blobs.
// Layers are written uncompressed (their blob digest is then their DiffID), as docker does.
import { createHash } from "node:crypto";
import type { Engine } from "../engine.ts";
import { MEDIA, hexOf, type ImageRecord } from "./store.ts";
import { parseReference, tagKey, familiarName, type Reference } from "./reference.ts";
import { TarWriter, writeArchive, checkStdoutNotTerminal } from "./archive.ts";
import { UserError } from "../util/errors.ts";
import type { CommitOptions } from "./commit.ts";

interface Selected {
  img: ImageRecord;
  /** Tag keys ("busybox:latest") to record; empty for an image named by id. */
  tags: string[];
}

/** Resolve the names given to save: tags, ids, or a bare repository (all of its tags). */
export function selectImages(engine: Engine, names: string[]): Selected[] {
  const store = engine.images;
  const out = new Map<string, Selected>();
  const add = (img: ImageRecord, tags: string[]) => {
    const s = out.get(img.id) ?? { img, tags: [] };
    for (const t of tags) if (!s.tags.includes(t)) s.tags.push(t);
    out.set(img.id, s);
  };
  const allTags = store.tags();
  for (const name of names) {
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {}
    const explicitTag = ref && (/:[^/]*$/.test(name) || name.includes("@"));
    if (ref && !explicitTag) {
      // A bare repository name saves every tag of it (docker save busybox).
      const repo = familiarName(ref);
      const tagged = Object.entries(allTags).filter(([k]) => k.slice(0, k.lastIndexOf(":")) === repo);
      if (tagged.length) {
        for (const [k, id] of tagged) {
          const img = store.getImage(id);
          if (img) add(img, [k]);
        }
        continue;
      }
    }
    const img = store.resolve(name);
    if (!img) throw new UserError(`No such image: ${name}`);
    const key = ref ? tagKey(ref) : undefined;
    add(img, key && allTags[key] === img.id ? [key] : []);
  }
  return [...out.values()];
}

/** Full name for OCI annotations: docker.io/library/busybox:latest. */
function fullName(key: string): string {
  const r = parseReference(key);
  return `${r.registry}/${r.repository}:${r.tag}`;
}

export async function saveImages(engine: Engine, names: string[], output: string | undefined): Promise<void> {
  if (!names.length) throw new UserError(`"minid save" requires at least 1 argument.\nSee 'minid save --help'.`);
  // The built-in busybox exists for every root, imported on first use: saving it is a first
  // use too (`minid save busybox | docker load` on a fresh host).
  const { ensureBuiltinIfNamed } = await import("./ensure.ts");
  for (const n of names) await ensureBuiltinIfNamed(engine, n);
  const selected = selectImages(engine, names);
  const dest = output ?? "-";
  if (dest === "-") checkStdoutNotTerminal("save");
  await writeArchive(dest, (w) => writeImages(engine, selected, w));
}

/**
 * `commit -o FILE`: commit, and write the new image as an archive. The new layer is written
 * once: each byte of its tar goes into the store's blob and into the archive together (as
 * `blobs/sha256/<DiffID>`, its header filled in when the DiffID is known), then the rest of
 * the image follows as save writes it. To stdout (not seekable), commit then save.
 */
export async function commitAndSave(engine: Engine, opts: CommitOptions, output: string): Promise<ImageRecord> {
  const { commitContainer } = await import("./commit.ts");
  if (output === "-") {
    checkStdoutNotTerminal("save");
    const img = await commitContainer(engine, opts);
    await saveImages(engine, [opts.reference ?? img.id], output);
    return img;
  }
  let img: ImageRecord | undefined;
  await writeArchive(output, async (w) => {
    w.dir("blobs");
    w.dir("blobs/sha256");
    img = await commitContainer(engine, { ...opts, teeFd: w.rawFd() });
    const rec = engine.images.getLayer(img.layers.at(-1)!.diffId)!;
    w.endFile(`blobs/sha256/${hexOf(rec.diffId)}`, rec.size);
    await writeImages(engine, selectImages(engine, [opts.reference ?? img.id]), w, new Set([rec.diffId]));
  });
  return img!;
}

/**
 * A compressed stored layer as its tar, checked against its DiffID before it counts as written.
 * Through the built-in DecompressionStream: streamed, so memory stays bounded whatever the
 * blob holds (a tar longer than the layer is refused at its first byte too many), and without
 * node:zlib, whose loading alone took ~7 ms, more than decompressing busybox's layer does.
 */
async function writeDecompressed(w: TarWriter, path: string, blob: string, rec: { diffId: string; mediaType: string; size: number }): Promise<void> {
  const corrupt = () => new Error(`layer ${rec.diffId} in the store is corrupt (content does not match its DiffID)`);
  const format = rec.mediaType.endsWith("+zstd") ? "zstd" : "gzip";
  const hash = new Bun.CryptoHasher("sha256");
  const stream = Bun.file(blob).stream().pipeThrough(new DecompressionStream(format as "gzip"));
  async function* checked() {
    let n = 0;
    try {
      for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
        // Longer than the layer: refused at the first byte too many, never buffered.
        if ((n += c.length) > rec.size) break;
        hash.update(c);
        yield c;
      }
    } catch {
      throw corrupt(); // not gzip/zstd, or truncated
    }
    if (n !== rec.size) throw corrupt();
  }
  await w.stream(path, rec.size, checked());
  if (`sha256:${hash.digest("hex")}` !== rec.diffId) throw corrupt();
}

/** `written`: blobs already in the archive, with the blobs/ directories (commitAndSave). */
async function writeImages(engine: Engine, selected: Selected[], w: TarWriter, written = new Set<string>()): Promise<void> {
  const store = engine.images;
  const manifestJson: unknown[] = [];
  const indexEntries: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  if (!written.size) {
    w.dir("blobs");
    w.dir("blobs/sha256");
  }
  for (const { img, tags } of selected) {
    const layerPaths: string[] = [];
    const descs: { mediaType: string; digest: string; size: number }[] = [];
    for (const l of img.layers) {
      const rec = store.getLayer(l.diffId);
      if (!rec) throw new Error(`layer ${l.diffId} of image ${img.id} is missing from the store`);
      const path = `blobs/sha256/${hexOf(rec.diffId)}`;
      layerPaths.push(path);
      descs.push({ mediaType: MEDIA.ociLayer, digest: rec.diffId, size: rec.size });
      if (written.has(rec.diffId)) continue;
      written.add(rec.diffId);
      const blob = store.blobPath(rec.digest);
      if (rec.digest === rec.diffId) {
        w.file(path, blob);
      } else {
        // Stored compressed: write the tar itself, checking it against its DiffID.
        await writeDecompressed(w, path, blob, rec);
      }
    }
    const cfgPath = `blobs/sha256/${hexOf(img.configDigest)}`;
    const cfgRaw = store.readBlob(img.configDigest);
    if (!written.has(img.configDigest)) {
      written.add(img.configDigest);
      w.bytes(cfgPath, cfgRaw);
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: img.configDigest, size: cfgRaw.length },
        layers: descs,
      }),
    );
    const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
    if (!written.has(manifestDigest)) {
      written.add(manifestDigest);
      w.bytes(`blobs/sha256/${hexOf(manifestDigest)}`, manifest);
    }
    const desc = { mediaType: MEDIA.ociManifest, digest: manifestDigest, size: manifest.length };
    if (tags.length) {
      for (const t of tags) {
        const tag = t.slice(t.lastIndexOf(":") + 1);
        indexEntries.push({
          ...desc,
          annotations: { "io.containerd.image.name": fullName(t), "org.opencontainers.image.ref.name": tag },
        });
        const repo = t.slice(0, t.lastIndexOf(":"));
        (repositories[repo] ??= {})[tag] = layerPaths.length ? hexOf(img.layers[img.layers.length - 1]!.diffId) : "";
      }
    } else {
      indexEntries.push(desc);
    }
    manifestJson.push({ Config: cfgPath, RepoTags: tags.length ? tags : null, Layers: layerPaths });
  }
  w.bytes("index.json", JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: indexEntries }) + "\n");
  w.bytes("manifest.json", JSON.stringify(manifestJson) + "\n");
  w.bytes("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  w.bytes("repositories", JSON.stringify(repositories) + "\n");
}
