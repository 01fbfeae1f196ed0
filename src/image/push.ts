// `minid push`: send a tagged image to the registry its name points at, like `docker push`.
// Layers go up compressed: as stored when the store holds them compressed in the format asked
// for (a pulled image keeps its blobs and digests), else compressed here (gzip by default,
// `--compression-format zstd`, `--compression-level N`) with the DiffID checked on the way.
// The compressed digests are remembered per layer (layer-compress.ts), so a second push asks
// the registry about the same blobs: a blob it has is skipped (HEAD), one another repository
// of the same registry has is mounted, and only the rest is compressed and uploaded. Then the
// config, then a manifest (Docker schema 2 when every layer came as a Docker layer and none is
// zstd, else OCI) PUT by tag.
import { rmSync, statSync } from "node:fs";
import type { Engine } from "../engine.ts";
import type { ImageConfig } from "./config.ts";
import { MEDIA, hexOf, type ImageRecord } from "./store.ts";
import { familiarName, parseReference, tagKey, type Reference } from "./reference.ts";
import { UserError } from "../util/errors.ts";
import { getCredentials } from "./auth.ts";
import { RegistryClient } from "./registry/client.ts";
import { insecureList } from "./registry/endpoint.ts";
import { DOCKER_LAYER_TAR } from "./registry/manifest.ts";
import { onInterrupt } from "./registry/interrupt.ts";
import { Progress, progressMode, type ProgressMode } from "./registry/progress.ts";
import { log } from "../util/log.ts";
import { checkLevel, compressLayer, rememberBlob, rememberedBlob, reposOf, sniff, type Compression } from "./layer-compress.ts";
import { tlsSettings, type TlsSettings } from "./registry/tls.ts";

export interface PushOptions {
  reference: string;
  progress?: ProgressMode;
  quiet?: boolean;
  insecure?: string[];
  concurrency?: number;
  /** Compress layers stored in another form (or uncompressed) this way; default gzip. */
  compressionFormat?: "gzip" | "zstd";
  compressionLevel?: number;
  tls?: TlsSettings;
}

export interface PushResult {
  tag: string;
  digest: string;
  size: number;
  mediaType: string;
}

const OCI_LAYER: Record<Compression, string> = { gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd, none: MEDIA.ociLayer };
const DOCKER_LAYER: Record<Compression, string | undefined> = { gzip: MEDIA.dockerLayerGzip, zstd: undefined, none: DOCKER_LAYER_TAR };

/**
 * The manifest for an image: Docker schema 2 if every stored layer carries a Docker media type
 * and a compression schema 2 can name, else OCI. Media types follow the bytes sent (a blob's
 * magic number, or the compression minid applied), not what a record claims.
 */
export function buildManifest(
  layers: { digest: string; size: number; mediaType: string; compression: Compression }[],
  config: { digest: string; size: number },
): { body: Uint8Array; mediaType: string } {
  const docker = layers.length > 0 && layers.every((l) => l.mediaType.startsWith("application/vnd.docker.") && DOCKER_LAYER[l.compression]);
  const mediaType = docker ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const doc = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? MEDIA.dockerConfig : MEDIA.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: docker ? DOCKER_LAYER[l.compression]! : OCI_LAYER[l.compression],
      digest: l.digest,
      size: l.size,
    })),
  };
  return { body: new TextEncoder().encode(JSON.stringify(doc, null, 2)), mediaType };
}

/**
 * Push under the interrupt guard: Ctrl-C removes the compressed copies being made and exits
 * with Docker's 130/143.
 */
export async function pushImage(engine: Engine, opts: PushOptions): Promise<PushResult> {
  const temps = new Set<string>();
  const release = onInterrupt(() => {
    for (const t of temps) rmSync(t, { force: true });
  });
  try {
    return await pushUnguarded(engine, opts, temps);
  } finally {
    for (const t of temps) rmSync(t, { force: true });
    release();
  }
}

/** One layer as it will be sent. */
interface Outgoing {
  diffId: string;
  /** The record's media type (whether the layer came as a Docker layer). */
  mediaType: string;
  /** The compression sent. */
  compression: Compression;
  level: number;
  /** The blob sent; known up front when sent as stored or remembered from an earlier push. */
  digest?: string;
  size?: number;
  /** The stored blob and how it is compressed. */
  path: string;
  stored: Compression;
  /** Sent as stored (no compression by minid). */
  asStored: boolean;
}

async function pushUnguarded(engine: Engine, opts: PushOptions, temps: Set<string>): Promise<PushResult> {
  const ref = parseReference(opts.reference);
  if (ref.digest) throw new UserError(`cannot push a digest reference (${opts.reference}): push NAME[:TAG]`);
  const store = engine.images;
  const key = tagKey(ref);
  const id = store.tags()[key];
  const img = id ? store.getImage(id) : undefined;
  if (!img) throw new UserError(`An image does not exist locally with the tag: ${key}`);
  const tag = ref.tag ?? "latest";
  if (opts.compressionLevel !== undefined && !opts.compressionFormat) checkLevel("gzip", opts.compressionLevel);
  const progress = new Progress(opts.progress ?? progressMode(Boolean(opts.quiet)));
  const client = new RegistryClient({
    registry: ref.registry,
    repository: ref.repository,
    insecure: insecureList(opts.insecure),
    tls: opts.tls ?? tlsSettings(engine.root, engine.tlsVerify),
    credentials: getCredentials(engine.root, ref.registry),
    actions: "pull,push",
    onRetry: (what, n, why) => log.debug(`${what}: ${why}; retry ${n}`),
  });
  const here = `${ref.registry}/${ref.repository}`;

  // Everything we will send must be in the store before we talk to the registry.
  const layers: Outgoing[] = img.layers.map((l) => {
    const path = store.blobPath(l.digest);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw new UserError(`layer ${l.digest} of ${key} has no blob in the store; it cannot be pushed`);
    }
    const stored = sniff(path);
    const want: "gzip" | "zstd" = opts.compressionFormat ?? (stored === "none" ? "gzip" : stored);
    if (stored === want) return { diffId: l.diffId, mediaType: l.mediaType, compression: want, level: 0, digest: l.digest, size, path, stored, asStored: true };
    const level = checkLevel(want, opts.compressionLevel);
    const known = rememberedBlob(store, l.diffId, want, level);
    return { diffId: l.diffId, mediaType: l.mediaType, compression: want, level, digest: known?.digest, size: known?.size, path, stored, asStored: false };
  });
  const rawConfig = store.readBlob(img.configDigest);
  const config = JSON.parse(rawConfig.toString("utf8")) as ImageConfig;
  const imageMount = mountSource(img, ref);
  /** Another repository of this registry the blob is in (pushed there, or pulled from it). */
  const mountFor = (l: Outgoing, digest: string): string | undefined => {
    for (const r of reposOf(store, l.diffId, digest)) {
      try {
        const p = parseReference(r);
        if (p.registry === ref.registry && p.repository !== ref.repository) return p.repository;
      } catch {
        /* not a reference */
      }
    }
    return l.asStored ? imageMount : undefined;
  };

  await client.check();
  progress.message(`The push refers to repository [${ref.registry}/${ref.repository}]`);
  const unique = [...new Map([...layers].reverse().map((l) => [l.diffId, l])).values()];
  // Progress lines name layers by DiffID, as Docker's push does.
  const label = (l: Outgoing) => short(l.diffId);
  for (const l of unique) progress.status(label(l), "Preparing");
  const queue = [...unique];
  let failed: unknown;
  const worker = async () => {
    for (let l = queue.shift(); l && failed === undefined; l = queue.shift()) {
      const sid = label(l);
      try {
        const entry = () => ({ compression: l!.compression as "gzip" | "zstd", level: l!.level, digest: l!.digest!, size: l!.size! });
        if (l.digest) {
          if (await client.hasBlob(l.digest)) {
            rememberBlob(store, l.diffId, entry(), here);
            progress.status(sid, "Layer already exists");
            continue;
          }
          const from = mountFor(l, l.digest);
          if (from && (await client.mountBlob(l.digest, from))) {
            rememberBlob(store, l.diffId, entry(), here);
            progress.status(sid, `Mounted from ${from}`);
            continue;
          }
        }
        let path = l.path;
        if (!l.asStored) {
          path = store.scratch("push");
          temps.add(path);
          const got = await compressLayer(l.path, l.stored, l.diffId, l.compression as "gzip" | "zstd", l.level, path);
          l.digest = got.digest;
          l.size = got.size;
        }
        const size = l.size!;
        const body = (): Bun.BodyInit => {
          if (progress.mode !== "tty") return Bun.file(path);
          let sent = 0;
          return Bun.file(path)
            .stream()
            .pipeThrough(
              new TransformStream<Uint8Array, Uint8Array>({
                transform(c, ctl) {
                  sent += c.length;
                  progress.bytes(sid, "Pushing", sent, size);
                  ctl.enqueue(c);
                },
              }),
            );
        };
        await client.uploadBlob(l.digest!, size, body);
        rememberBlob(store, l.diffId, entry(), here);
        progress.status(sid, "Pushed");
        if (path !== l.path) {
          rmSync(path, { force: true });
          temps.delete(path);
        }
      } catch (e) {
        if (failed === undefined) failed = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 3, queue.length) }, worker));
  if (failed !== undefined) throw failed;

  if (!(await client.hasBlob(img.configDigest))) {
    await client.uploadBlob(img.configDigest, rawConfig.length, () => rawConfig);
  }
  const sent = layers.map((l) => {
    const u = unique.find((x) => x.diffId === l.diffId)!;
    return { digest: u.digest!, size: u.size!, mediaType: l.mediaType, compression: u.compression };
  });
  const { body, mediaType } = buildManifest(sent, { digest: img.configDigest, size: rawConfig.length });
  const digest = await client.putManifest(tag, body, mediaType);
  store.createImage(config, img.layers, [`${familiarName(ref)}@${digest}`], rawConfig);
  return { tag, digest, size: body.length, mediaType };
}

/** Another repository of the same registry this image was pulled from or pushed to. */
function mountSource(img: ImageRecord, ref: Reference): string | undefined {
  for (const rd of img.repoDigests ?? []) {
    try {
      const r = parseReference(rd);
      if (r.registry === ref.registry && r.repository !== ref.repository) return r.repository;
    } catch {
      /* not a reference */
    }
  }
  return undefined;
}

const short = (digest: string) => hexOf(digest).slice(0, 12);

