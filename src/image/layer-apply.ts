// Applies one image layer (a tar, plain, gzip or zstd) into a fresh directory, byte-exact and
// safe against hostile tars. The work is split by job: layer-input.ts reads, sniffs,
// decompresses and digests the bytes; layer-hash.ts hashes them (on a second thread for big
// layers); tar-header.ts parses the tar fields; layer-extract.ts creates the entries.
//
// Why not node-tar: its PAX parser keeps only a fixed set of keys and decodes values as text
// cut at the first NUL, so `SCHILY.xattr.security.capability` (binary) cannot survive it, and
// its Unpack rewrites symlinks and skips device nodes (design.md, "node-tar and root
// filesystems"). The tar format itself is small, so minid parses headers directly and
// creates every entry through dirfd-relative syscalls (src/linux/libc.ts `fsat`).
import fs from "node:fs";
import path from "node:path";
import { LayerError, asLayerError } from "./layer-error.ts";
import { Extractor } from "./layer-extract.ts";
import { openSource, pump } from "./layer-input.ts";
import type { ApplyLimits, ApplyResult, Input } from "./layer-types.ts";

export { LayerError };
export type { ApplyLimits, ApplyResult, Input };

export async function applyLayer(input: Input, dest: string, opts: ApplyLimits = {}): Promise<ApplyResult> {
  const limits = {
    maxBytes: opts.maxBytes ?? 64 * 2 ** 30,
    maxEntries: opts.maxEntries ?? 1_000_000,
    maxRatio: opts.maxRatio ?? 1000,
  };
  dest = path.resolve(dest);
  // Open the input before creating dest, so a missing file leaves nothing behind.
  const source = openSource(input);
  try {
    fs.mkdirSync(dest, { mode: 0o755 });
  } catch (e: any) {
    await source.close();
    throw new LayerError(
      e?.code === "EEXIST"
        ? `layer destination ${dest} already exists`
        : `cannot create layer destination ${dest}: ${e?.message ?? e}`,
    );
  }
  let x: Extractor | undefined;
  try {
    x = new Extractor(dest, limits);
    const res = await pump(source, x, limits);
    x.finish();
    await source.close();
    return res;
  } catch (e) {
    x?.closeAll();
    await source.close();
    let err = asLayerError(e, x);
    try {
      // rmSync lstat()s and never follows a symlink out of dest (checked in the tests).
      fs.rmSync(dest, { recursive: true, force: true });
    } catch (rmErr: any) {
      err = new LayerError(`${err.message} (and removing ${dest} failed: ${rmErr?.message ?? rmErr})`);
    }
    throw err;
  }
}
