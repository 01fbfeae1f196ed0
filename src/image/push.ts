// `minid push`: send a tagged image to the registry its name points at, like `docker push`.
// Layers and config go up as the blobs the store holds (skipped when the registry has them,
// mounted from another repository of the same registry when the image came from there), then
// a manifest (Docker schema 2 when every layer is a Docker media type, else OCI) PUT by tag.
import { closeSync, openSync, readSync, statSync } from "node:fs";
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

export interface PushOptions {
  reference: string;
  progress?: ProgressMode;
  quiet?: boolean;
  insecure?: string[];
  concurrency?: number;
}

export interface PushResult {
  tag: string;
  digest: string;
  size: number;
  mediaType: string;
}

type Compression = "gzip" | "zstd" | "none";

function sniff(path: string): Compression {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "gzip";
    if (n >= 4 && b.readUInt32BE(0) === 0x28b52ffd) return "zstd";
    return "none";
  } finally {
    closeSync(fd);
  }
}

const OCI_LAYER: Record<Compression, string> = { gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd, none: MEDIA.ociLayer };
const DOCKER_LAYER: Record<Compression, string | undefined> = { gzip: MEDIA.dockerLayerGzip, zstd: undefined, none: DOCKER_LAYER_TAR };

/**
 * The manifest for an image: Docker schema 2 if every stored layer carries a Docker media type
 * and a compression schema 2 can name, else OCI. Media types follow the bytes (a blob's magic
 * number), not what a record claims.
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
 * Push under the interrupt guard: push stages nothing in the store (it sends the blobs the
 * store has), so Ctrl-C has nothing to remove; it exits with Docker's 130/143 all the same.
 */
export async function pushImage(engine: Engine, opts: PushOptions): Promise<PushResult> {
  const release = onInterrupt(() => {});
  try {
    return await pushUnguarded(engine, opts);
  } finally {
    release();
  }
}

async function pushUnguarded(engine: Engine, opts: PushOptions): Promise<PushResult> {
  const ref = parseReference(opts.reference);
  if (ref.digest) throw new UserError(`cannot push a digest reference (${opts.reference}): push NAME[:TAG]`);
  const store = engine.images;
  const key = tagKey(ref);
  const id = store.tags()[key];
  const img = id ? store.getImage(id) : undefined;
  if (!img) throw new UserError(`An image does not exist locally with the tag: ${key}`);
  const tag = ref.tag ?? "latest";
  const progress = new Progress(opts.progress ?? progressMode(Boolean(opts.quiet)));
  const client = new RegistryClient({
    registry: ref.registry,
    repository: ref.repository,
    insecure: insecureList(opts.insecure),
    credentials: getCredentials(engine.root, ref.registry),
    actions: "pull,push",
    onRetry: (what, n, why) => log.debug(`${what}: ${why}; retry ${n}`),
  });

  // Everything we will send must be in the store before we talk to the registry.
  const layers = img.layers.map((l) => {
    const path = store.blobPath(l.digest);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw new UserError(`layer ${l.digest} of ${key} has no blob in the store; it cannot be pushed`);
    }
    return { diffId: l.diffId, digest: l.digest, mediaType: l.mediaType, size, path, compression: sniff(path) };
  });
  const rawConfig = store.readBlob(img.configDigest);
  const config = JSON.parse(rawConfig.toString("utf8")) as ImageConfig;
  const mountFrom = mountSource(img, ref);

  progress.message(`The push refers to repository [${ref.registry}/${ref.repository}]`);
  const unique = [...new Map([...layers].reverse().map((l) => [l.digest, l])).values()];
  for (const l of unique) progress.status(short(l.digest), "Preparing");
  const queue = [...unique];
  let failed: unknown;
  const worker = async () => {
    for (let l = queue.shift(); l && failed === undefined; l = queue.shift()) {
      const sid = short(l.digest);
      try {
        if (await client.hasBlob(l.digest)) {
          progress.status(sid, "Layer already exists");
          continue;
        }
        const path = l.path;
        const size = l.size;
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
        const how = await client.uploadBlob(l.digest, size, body, mountFrom);
        progress.status(sid, how === "mounted" ? `Mounted from ${mountFrom}` : "Pushed");
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
  const { body, mediaType } = buildManifest(layers, { digest: img.configDigest, size: rawConfig.length });
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

