// `minid import`: a flat rootfs tar (plain, gzip or zstd) becomes a one-layer image.
import { copyFileSync, createWriteStream, mkdirSync, statSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Engine } from "../engine.ts";
import { applyChange, emptyConfig } from "./config.ts";
import { layerRecordOf, type ImageRecord } from "./store.ts";
import { removeTree } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { parseReference } from "./reference.ts";
import { LAYER_TREE } from "../storage/layout.ts";

export interface ImportOptions {
  /** A path, "-" for stdin, or a Bun file (the embedded default image). */
  source: string | Blob;
  reference?: string;
  changes?: string[];
  message?: string;
  /** The config's creation date (the built-in image's is fixed); default: now. */
  created?: string;
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
    const { applyLayer } = await import("./layer-apply.ts");
    let res: Awaited<ReturnType<typeof applyLayer>>;
    if (typeof opts.source === "string" && opts.source !== "-") {
      // A file: keep its copy (the blob) on a pool thread while this thread unpacks the
      // original, so the two passes overlap; a file changing meanwhile is refused.
      const before = statSource(opts.source);
      const copy = copyFile(opts.source, blob);
      try {
        res = await applyLayer(opts.source, join(staging, LAYER_TREE));
      } finally {
        await copy.catch(() => {});
      }
      await copy;
      const after = statSource(opts.source);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
        throw new UserError(`${opts.source} changed while it was being imported: import it again`);
      }
    } else {
      await copySource(opts.source, blob);
      res = await applyLayer(blob, join(staging, LAYER_TREE));
    }
    const rec = layerRecordOf(res);
    const { mediaType } = rec;
    const created = opts.created ?? new Date().toISOString();
    config.created = created;
    config.rootfs.diff_ids = [res.diffId];
    const from = typeof opts.source === "string" ? opts.source : "the built-in image";
    config.history = [{ created, created_by: "minid import", comment: opts.message ?? `Imported from ${from}` }];
    const [img] = store.publish({
      layers: [{ rec, blob, dir: staging }],
      images: [{
        config,
        layers: [{ diffId: rec.diffId, digest: rec.digest, mediaType, size: rec.compressedSize }],
        tags: opts.reference ? [opts.reference] : [],
      }],
    });
    return img!;
  } finally {
    removeTree(staging);
    removeTree(blob);
  }
}

function statSource(source: string) {
  try {
    const st = statSync(source);
    if (st.isDirectory()) throw new UserError(`${source} is a directory; import takes a tar file`);
    return st;
  } catch (e: any) {
    if (e?.code === "ENOENT") throw new UserError(`open ${source}: no such file or directory`);
    throw e;
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
  copyFileSync(source, dest);
}
