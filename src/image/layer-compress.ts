// Layers as push sends them: compressed (gzip by default, zstd on request), and the compressed
// digests minid made or sent remembered per layer, so pushing the same image again names the
// same blobs (the registry is asked whether it has them before anything is compressed again)
// and a blob pushed to one repository can be mounted into another of the same registry.
//
//   <root>/image/layers/<diffid-hex>/pushed.json   { compressed: [{ compression, level, digest, size, repos }] }
//
// The file lives in the layer's own directory, so it goes when the layer goes.
import { createReadStream, createWriteStream, existsSync, openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import type { ImageStore } from "./store.ts";
import { UserError } from "../util/errors.ts";
import { readJson, writeJsonAtomic } from "../util/fs.ts";

export type Compression = "gzip" | "zstd" | "none";

/** zlib's and zstd's own defaults, as Docker and podman use them. */
export const DEFAULT_LEVEL: Record<"gzip" | "zstd", number> = { gzip: 6, zstd: 3 };
const LEVELS: Record<"gzip" | "zstd", [number, number]> = { gzip: [1, 9], zstd: [1, 19] };

export function checkLevel(format: "gzip" | "zstd", level: number | undefined): number {
  if (level === undefined) return DEFAULT_LEVEL[format];
  const [lo, hi] = LEVELS[format];
  if (!Number.isInteger(level) || level < lo || level > hi) {
    throw new UserError(`invalid --compression-level ${level} for ${format}: use ${lo} to ${hi}`);
  }
  return level;
}

export function parseCompressionFormat(v: string | undefined): "gzip" | "zstd" | undefined {
  if (v === undefined) return undefined;
  if (v === "gzip" || v === "zstd") return v;
  throw new UserError(`invalid --compression-format "${v}": use gzip or zstd`);
}

/** What a blob's first bytes say it is (media types can lie; magic numbers do not). */
export function sniff(path: string): Compression {
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

export interface Compressed {
  compression: "gzip" | "zstd";
  level: number;
  digest: string;
  size: number;
  /** "registry/repository" names this blob was pushed to or found in. */
  repos: string[];
}

interface PushedFile {
  compressed: Compressed[];
}

function pushedFile(store: ImageStore, diffId: string): string {
  return join(store.layerDir(diffId), "pushed.json");
}

/** The file is a cache: unreadable or cut short, it is as if empty (and rewritten on the next push). */
function readPushed(file: string): PushedFile | undefined {
  try {
    const doc = readJson<PushedFile>(file);
    return doc && typeof doc === "object" ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** The compressed blob minid made (or sent) for a layer in this format and level, if any. */
export function rememberedBlob(store: ImageStore, diffId: string, compression: "gzip" | "zstd", level: number): Compressed | undefined {
  const doc = readPushed(pushedFile(store, diffId));
  const list = Array.isArray(doc?.compressed) ? doc!.compressed : [];
  return list.find((c) => c?.compression === compression && c.level === level && /^sha256:[a-f0-9]{64}$/.test(c.digest) && Number.isSafeInteger(c.size) && c.size > 0);
}

/** Every repository a blob of this layer with `digest` is known to be in. */
export function reposOf(store: ImageStore, diffId: string, digest: string): string[] {
  const doc = readPushed(pushedFile(store, diffId));
  const list = Array.isArray(doc?.compressed) ? doc!.compressed : [];
  const repos = list.find((c) => c?.digest === digest)?.repos;
  return Array.isArray(repos) ? repos.filter((r) => typeof r === "string") : [];
}

/** Note that the layer's blob `entry` is now in `repo` (registry/repository). */
export function rememberBlob(store: ImageStore, diffId: string, entry: Omit<Compressed, "repos">, repo: string): void {
  store.locked(() => {
    if (!existsSync(join(store.layerDir(diffId), "layer.json"))) return; // removed meanwhile
    const file = pushedFile(store, diffId);
    const doc = readPushed(file) ?? { compressed: [] };
    const list = Array.isArray(doc.compressed) ? doc.compressed : [];
    let have = list.find((c) => c?.digest === entry.digest);
    if (!have) list.push((have = { ...entry, repos: [] }));
    if (!Array.isArray(have.repos)) have.repos = [];
    if (have.repos.includes(repo)) return; // known already: nothing to write
    have.repos.push(repo);
    writeJsonAtomic(file, { compressed: list }, 0o600);
  });
}

/**
 * Write the layer's tar, compressed as asked, to `dest`: from its stored blob (decompressed
 * first when it is stored compressed otherwise). The tar is checked against the layer's DiffID
 * on the way, so a corrupt store never reaches a registry. Returns the compressed digest and size.
 */
export async function compressLayer(
  blob: string,
  stored: Compression,
  diffId: string,
  to: "gzip" | "zstd",
  level: number,
  dest: string,
): Promise<{ digest: string; size: number }> {
  const tarHash = new Bun.CryptoHasher("sha256");
  const outHash = new Bun.CryptoHasher("sha256");
  let size = 0;
  const tap = (fn: (c: Buffer) => void) =>
    new Transform({
      transform(c: Buffer, _e, cb) {
        fn(c);
        cb(null, c);
      },
    });
  const z = zlib as any;
  const stages: NodeJS.ReadWriteStream[] = [];
  if (stored === "gzip") stages.push(zlib.createGunzip());
  if (stored === "zstd") stages.push(z.createZstdDecompress());
  stages.push(tap((c) => tarHash.update(c)));
  stages.push(
    to === "gzip"
      ? zlib.createGzip({ level })
      : z.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level } }),
  );
  stages.push(
    tap((c) => {
      outHash.update(c);
      size += c.length;
    }),
  );
  await pipeline([createReadStream(blob, { highWaterMark: 1 << 20 }), ...stages, createWriteStream(dest, { mode: 0o600 })] as any);
  const got = `sha256:${tarHash.digest("hex")}`;
  if (got !== diffId) throw new UserError(`layer ${diffId} in the store is corrupt (its content is ${got}): pull or load the image again`);
  return { digest: `sha256:${outHash.digest("hex")}`, size };
}
