// `minid pull`: fetch an image from a registry (OCI distribution v2) into the store.
//
// Order of work, so a failure leaves the store as it was:
//   1. manifest (an index is resolved to this host's platform), digest checked;
//   2. config, digest checked, its platform and layer count checked against the manifest;
//   3. each layer the store lacks streams from the registry into a scratch file and, at the
//      same time, into applyLayer in a scratch dir; the blob's digest and size are checked on
//      the whole stream, the DiffID against the config;
//   4. only when every layer is staged: blobs and layers published by rename, image, tag.
// Anything staged is removed on failure; scratch leftovers of a killed pull are swept later.
import { closeSync, mkdirSync, openSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import type { Engine } from "../engine.ts";
import type { ImageConfig } from "./config.ts";
import { hexOf, type ImageRecord, type LayerRecord } from "./store.ts";
import { familiarName, formatReference, parseReference, tagKey, type Reference } from "./reference.ts";
import { UserError } from "../util/errors.ts";
import { removeTree } from "../util/fs.ts";
import { getCredentials } from "./auth.ts";
import { RegistryClient, type BlobReader } from "./registry/client.ts";
import { insecureList, manifestRef } from "./registry/endpoint.ts";
import { tlsSettings, type TlsSettings } from "./registry/tls.ts";
import {
  formatPlatform,
  hostPlatform,
  parseManifest,
  platformsOf,
  selectPlatform,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from "./registry/manifest.ts";
import { onInterrupt } from "./registry/interrupt.ts";
import { Progress, progressMode, writeAll, type ProgressMode } from "./registry/progress.ts";
import { log } from "../util/log.ts";

export interface PullOptions {
  reference: string;
  /** Progress on stderr: "tty" bars, "plain" lines or nothing ("quiet"). Default: by stderr. */
  progress?: ProgressMode;
  quiet?: boolean;
  platform?: Platform;
  /** Registries allowed over plain http (besides loopback and MINID_INSECURE_REGISTRIES). */
  insecure?: string[];
  /** Layers fetched at once (default 3, like Docker). */
  concurrency?: number;
  /** Certificates and --tls-verify; default: the engine's (certs.d, the global --tls-verify). */
  tls?: TlsSettings;
}

export interface PullResult {
  image: ImageRecord;
  /** The fully qualified name Docker prints last: docker.io/library/busybox:latest. */
  fullName: string;
  /** Digest of the manifest (or index) the reference resolved to. */
  digest: string;
  downloaded: boolean;
}

interface Staged {
  dir: string;
  blob: string;
  rec: LayerRecord;
}

export const short = (digest: string) => hexOf(digest).slice(0, 12);

/** "docker.io/library/busybox:latest", "127.0.0.1:5000/test/busybox@sha256:…". */
export function fullName(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag && !ref.digest) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

export async function pullImage(engine: Engine, opts: PullOptions): Promise<PullResult> {
  const ref = parseReference(opts.reference);
  const store = engine.images;
  const progress = new Progress(opts.progress ?? progressMode(Boolean(opts.quiet)));
  const want = opts.platform ?? hostPlatform();
  const client = new RegistryClient({
    registry: ref.registry,
    repository: ref.repository,
    insecure: insecureList(opts.insecure),
    tls: opts.tls ?? tlsSettings(engine.root, engine.tlsVerify),
    credentials: getCredentials(engine.root, ref.registry),
    actions: "pull",
    onRetry: (what, n, why) => log.debug(`${what}: ${why}; retry ${n}`),
  });
  store.init();
  store.sweep();

  const top = await client.getManifest(manifestRef(ref));
  let parsed = parseManifest(top.body, top.contentType);
  if (parsed.kind === "index") {
    const chosen = selectPlatform(parsed.index, want);
    if (!chosen) {
      const offered = platformsOf(parsed.index);
      throw new UserError(
        `no matching manifest for ${formatPlatform(want)} in the manifest list entries of ${formatReference(ref)}` +
          (offered.length ? ` (it has ${[...new Set(offered)].join(", ")})` : ""),
      );
    }
    const m = await client.getManifest(chosen.digest);
    parsed = parseManifest(m.body, m.contentType);
    if (parsed.kind !== "manifest") throw new UserError(`${formatReference(ref)}: nested manifest lists are not supported`);
  }
  const manifest: ImageManifest = parsed.manifest;
  // Like Docker, say nothing before the reference resolved: a bad name or tag is one line.
  progress.message(`${ref.digest ?? ref.tag}: Pulling from ${ref.repository}`);

  // Config: verified bytes, kept verbatim (their digest is the image id).
  const cfgDesc = manifest.config;
  const rawConfig = store.hasBlob(cfgDesc.digest)
    ? new Uint8Array(store.readBlob(cfgDesc.digest))
    : await client.getSmallBlob(cfgDesc.digest, cfgDesc.size, "image config");
  let config: ImageConfig;
  try {
    config = JSON.parse(new TextDecoder().decode(rawConfig));
  } catch {
    throw new UserError(`invalid image config ${cfgDesc.digest}: not JSON`);
  }
  if (config.os && config.architecture && (config.os !== want.os || config.architecture !== want.architecture)) {
    throw new UserError(
      `image ${formatReference(ref)} is for ${formatPlatform(config)}, not ${formatPlatform({ os: want.os, architecture: want.architecture })}`,
    );
  }
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || !diffIds.every((d) => /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new UserError(
      `invalid image ${formatReference(ref)}: its config lists ${Array.isArray(diffIds) ? diffIds.length : "no"} layers, its manifest ${manifest.layers.length}`,
    );
  }

  // Layers: what the store has already, what must be fetched (once per DiffID).
  const todo = new Map<string, { desc: Descriptor; diffId: string }>();
  for (let i = 0; i < manifest.layers.length; i++) {
    const desc = manifest.layers[i]!;
    const diffId = diffIds[i]!;
    if (store.hasLayer(diffId)) {
      progress.status(short(desc.digest), "Already exists");
    } else if (!todo.has(diffId)) {
      todo.set(diffId, { desc, diffId });
      progress.status(short(desc.digest), "Pulling fs layer");
    }
  }

  const staged = new Map<string, Staged>();
  const readers = new Set<BlobReader>();
  // Scratch paths of layers being fetched or staged: Ctrl-C removes them before exiting.
  const scratch = new Set<string>();
  const releaseInterrupt = onInterrupt(() => {
    for (const p of scratch) removeTree(p);
  });
  const repoDigest = `${familiarName(ref)}@${top.digest}`;
  let before: ImageRecord | undefined;
  let tagged: string | undefined;
  let image: ImageRecord | undefined;
  let failed: unknown;
  try {
    const queue = [...todo.values()];
    const worker = async () => {
      for (let job = queue.shift(); job && failed === undefined; job = queue.shift()) {
        try {
          staged.set(job.diffId, await stageLayer(engine, client, job.desc, job.diffId, progress, readers, scratch));
        } catch (e) {
          if (failed === undefined) failed = e;
          for (const r of readers) r.cancel(); // stop the others quickly
        }
      }
    };
    const width = opts.concurrency ?? (Number(process.env.MINID_MAX_CONCURRENT_DOWNLOADS) || 3);
    await Promise.all(Array.from({ length: Math.min(width, queue.length) }, worker));
    if (failed !== undefined) throw failed;

    // Publish in one store operation: pins, blobs, layers, the image, its tag.
    const reused = diffIds.filter((d) => !todo.has(d));
    before = store.getImage(cfgDesc.digest);
    tagged = ref.tag && !ref.digest ? store.tags()[tagKey(ref)] : undefined;
    [image] = store.publish({
      layers: [...staged.values()].map((s) => ({ rec: s.rec, blob: s.blob, dir: s.dir })),
      reuse: reused,
      images: [{
        config,
        rawConfig,
        repoDigests: [repoDigest],
        expectId: cfgDesc.digest,
        tags: ref.tag && !ref.digest ? [ref] : [],
        layers: () =>
          manifest.layers.map((desc, i) => {
            const diffId = diffIds[i]!;
            if (store.hasBlob(desc.digest)) return { diffId, digest: desc.digest, mediaType: desc.mediaType, size: desc.size };
            // The layer came from elsewhere (another compression of the same tree): point at the
            // blob the store has for it, so push can still send it.
            const have = store.getLayer(diffId)!;
            return { diffId, digest: have.digest, mediaType: have.mediaType, size: have.compressedSize };
          }),
      }],
    });
  } finally {
    for (const s of staged.values()) {
      removeTree(s.dir);
      removeTree(s.blob);
    }
    releaseInterrupt();
  }
  for (const { desc } of todo.values()) progress.status(short(desc.digest), "Pull complete");
  // Where each layer's blob is: a later push to another repository of this registry mounts it
  // from here instead of uploading it (Docker keeps the same per-layer record).
  try {
    const { rememberBlob } = await import("./layer-compress.ts");
    for (const l of image!.layers) {
      const compression = l.mediaType.endsWith("zstd") ? "zstd" : /gzip/.test(l.mediaType) ? "gzip" : undefined;
      if (compression && store.hasBlob(l.digest)) rememberBlob(store, l.diffId, { compression, level: 0, digest: l.digest, size: l.size }, `${ref.registry}/${ref.repository}`);
    }
  } catch {
    /* a hint for push only: never a reason for a pull to fail */
  }
  const downloaded = todo.size > 0 || !before || (ref.tag !== undefined && !ref.digest && tagged !== image!.id);
  progress.message(`Digest: ${top.digest}`);
  const shownName = ref.digest ? `${familiarName(ref)}@${ref.digest}` : tagKey(ref);
  progress.message(`Status: ${downloaded ? "Downloaded newer image" : "Image is up to date"} for ${shownName}`);
  return { image: image!, fullName: fullName(ref), digest: top.digest, downloaded };
}

/**
 * Stream one layer blob into a scratch file and, at the same time, into applyLayer; verify the
 * blob (size and digest over every byte, whatever the extractor consumed) and the DiffID.
 */
async function stageLayer(
  engine: Engine,
  client: RegistryClient,
  desc: Descriptor,
  diffId: string,
  progress: Progress,
  readers: Set<BlobReader>,
  scratch: Set<string>,
): Promise<Staged> {
  const store = engine.images;
  const id = short(desc.digest);
  const dir = store.scratch("pull");
  const blob = `${dir}.blob`;
  scratch.add(dir).add(blob);
  mkdirSync(dir, { mode: 0o700 });
  let fd = -1;
  const reader = client.openBlob(desc.digest, desc.size);
  readers.add(reader);
  const t0 = performance.now();
  try {
    fd = openSync(blob, "w", 0o600);
    const hash = createHash("sha256");
    let n = 0;
    let fetchErr: unknown;
    const next = async (): Promise<Uint8Array | null> => {
      if (fetchErr !== undefined) throw fetchErr;
      try {
        const c = await reader.read();
        if (!c) return null;
        n += c.length;
        if (n > desc.size) {
          throw new UserError(`layer ${desc.digest} of ${client.name}: the registry sent more than the ${desc.size} bytes the manifest announced`);
        }
        writeAll(fd, c);
        hash.update(c);
        progress.bytes(id, "Downloading", n, desc.size);
        return c;
      } catch (e) {
        fetchErr = e;
        throw e;
      }
    };
    // Reads are serialised: the extractor pulls, and afterwards we drain what it left.
    let chain: Promise<Uint8Array | null> = Promise.resolve(null);
    const serial = () => (chain = chain.then(next, next));
    try {
      while (await serial());
    } catch {
      /* fetchErr holds it */
    }
    closeSync(fd);
    fd = -1;
    if (fetchErr !== undefined) throw fetchErr;
    const got = `sha256:${hash.digest("hex")}`;
    if (got !== desc.digest || n !== desc.size) {
      throw new UserError(
        `digest mismatch for layer ${desc.digest} of ${client.name}: received ${n} bytes with digest ${got} (expected ${desc.size} bytes)`,
      );
    }
    progress.status(id, "Download complete");
    log.debug(`layer ${id}: ${n} bytes fetched in ${(performance.now() - t0).toFixed(0)} ms${reader.resumed ? ` (resumed ${reader.resumed}x)` : ""}`);
    // As containerd does: pull verifies what it fetched (the blob digest, above); the layer is
    // unpacked once, on first use, where its DiffID is checked (store.ensureExtracted).
    return {
      dir,
      blob,
      rec: {
        diffId,
        digest: desc.digest,
        mediaType: desc.mediaType,
        size: uncompressedSizeHint(blob, n),
        compressedSize: desc.size,
        created: new Date().toISOString(),
      },
    };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    removeTree(dir);
    removeTree(blob);
    throw e;
  } finally {
    readers.delete(reader);
  }
}

/**
 * `run` with an image the store lacks: Docker's "Unable to find image … locally", then a pull
 * whose progress goes to stderr. Any failure is one line (exit 125).
 */
export async function pullForRun(engine: Engine, name: string, quiet = false, always = false): Promise<ImageRecord> {
  const ref = parseReference(name);
  if (!quiet && !always) writeAll(2, `Unable to find image '${formatReference(ref)}' locally\n`);
  const res = await pullImage(engine, { reference: name, insecure: engine.insecureRegistries, quiet });
  return res.image;
}

/**
 * The uncompressed size of a layer blob without inflating it, for `images` until the layer
 * is unpacked (which records the exact size): gzip's ISIZE trailer, zstd's frame content size
 * when the frame declares it, else the blob's own size.
 */
export function uncompressedSizeHint(file: string, size: number): number {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(18);
    readSync(fd, head, 0, head.length, 0);
    if (head[0] === 0x1f && head[1] === 0x8b && size >= 18) {
      const tail = Buffer.alloc(4);
      readSync(fd, tail, 0, 4, size - 4);
      return tail.readUInt32LE(0); // modulo 4 GiB: a hint, corrected on unpack
    }
    if (head.readUInt32LE(0) === 0xfd2fb528) {
      const fhd = head[4]!;
      const fcsFlag = fhd >> 6;
      const single = (fhd >> 5) & 1;
      const dictBytes = [0, 1, 2, 4][fhd & 3]!;
      const off = 5 + (single ? 0 : 1) + dictBytes;
      if (fcsFlag === 0 && !single) return size;
      const len = [1, 2, 4, 8][fcsFlag]!;
      const v = len === 8 ? Number(head.readBigUInt64LE(off)) : head.readUIntLE(off, len);
      return len === 2 ? v + 256 : v;
    }
    return size;
  } finally {
    closeSync(fd);
  }
}
