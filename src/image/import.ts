// `minid import`: a flat rootfs tar (plain, gzip or zstd) becomes a one-layer image.
import { copyFileSync, createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Engine } from "../engine.ts";
import { applyChange, emptyConfig } from "./config.ts";
import { layerRecordOf, type ImageRecord } from "./store.ts";
import { removeTree } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { parseReference } from "./reference.ts";

export interface ImportOptions {
  /** A path, "-" for stdin, or a Bun file (the embedded default image). */
  source: string | Blob;
  reference?: string;
  changes?: string[];
  message?: string;
}

export async function importImage(engine: Engine, opts: ImportOptions): Promise<ImageRecord> {
  const store = engine.images;
  if (opts.reference) parseReference(opts.reference); // fail before any work on a bad name
  const config = emptyConfig();
  for (const c of opts.changes ?? []) applyChange(config.config, c);
  store.init();
  store.sweep();
  const staging = store.scratch("import");
  const blob = `${staging}.blob`;
  try {
    mkdirSync(staging, { mode: 0o700 });
    await copySource(opts.source, blob);
    const { applyLayer } = await import("./layer-apply.ts");
    const res = await applyLayer(blob, join(staging, "diff"));
    const rec = layerRecordOf(res);
    const { mediaType } = rec;
    store.adoptBlob(blob, res.digest);
    store.commitLayer(staging, rec);
    const created = new Date().toISOString();
    config.created = created;
    config.rootfs.diff_ids = [res.diffId];
    const from = typeof opts.source === "string" ? opts.source : "the built-in image";
    config.history = [{ created, created_by: "minid import", comment: opts.message ?? `Imported from ${from}` }];
    const img = store.createImage(config, [{ diffId: rec.diffId, digest: rec.digest, mediaType, size: rec.compressedSize }]);
    if (opts.reference) store.setTag(opts.reference, img.id);
    return img;
  } finally {
    removeTree(staging);
    removeTree(blob);
  }
}

async function copySource(source: string | Blob, dest: string): Promise<void> {
  if (typeof source !== "string") {
    await Bun.write(dest, source);
    return;
  }
  if (source === "-") {
    await pipeline(process.stdin, createWriteStream(dest, { mode: 0o600 }));
    return;
  }
  try {
    copyFileSync(source, dest);
  } catch (e: any) {
    if (e?.code === "ENOENT") throw new UserError(`open ${source}: no such file or directory`);
    if (e?.code === "EISDIR") throw new UserError(`${source} is a directory; import takes a tar file`);
    throw e;
  }
}
