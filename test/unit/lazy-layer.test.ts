// Layers pulled as verified blobs and unpacked once, on first use.
import { describe, expect, test, beforeEach, afterEach } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import * as zlib from "node:zlib";
import { uncompressedSizeHint } from "../../src/image/pull.ts";
import { ImageStore, sha256, type LayerRecord } from "../../src/image/store.ts";
import { entry, tar } from "../helpers/tar-craft.ts";

const layer = tar(
  entry({ name: "etc/", type: "5", mode: 0o755 }),
  entry({ name: "etc/hello", data: "hi\n", mode: 0o644 }),
);

describe("uncompressedSizeHint", () => {
  test("gzip ISIZE, zstd frame content size, plain size", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-hint-"));
    try {
      const f = join(dir, "b");
      writeFileSync(f, gzipSync(layer));
      expect(uncompressedSizeHint(f, statSync(f).size)).toBe(layer.length);
      writeFileSync(f, layer);
      expect(uncompressedSizeHint(f, layer.length)).toBe(layer.length);
      if (typeof (zlib as any).zstdCompressSync === "function") {
        writeFileSync(f, (zlib as any).zstdCompressSync(layer));
        expect(uncompressedSizeHint(f, statSync(f).size)).toBe(layer.length);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("store.ensureExtracted", () => {
  let dir: string;
  let store: ImageStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "minid-lazy-"));
    store = new ImageStore(dir);
    store.init();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function storeBlobOnly(bytes: Buffer, diffId = sha256(bytes), sizeHint = bytes.length): LayerRecord {
    const digest = store.putBlob(bytes);
    const rec: LayerRecord = { diffId, digest, mediaType: "application/vnd.oci.image.layer.v1.tar", size: sizeHint, compressedSize: bytes.length, created: "" };
    const staging = store.scratch("test");
    require("node:fs").mkdirSync(staging);
    return store.commitLayer(staging, rec);
  }
  // pin-* files are commitLayer's guard against a concurrent gc, released with this process.
  const scratch = () => readdirSync(store.tmpDir).filter((n) => !n.startsWith("pin-"));

  test("unpacks once, from the blob, recording the exact size", async () => {
    const rec = storeBlobOnly(layer, undefined, 12345);
    expect(store.hasLayer(rec.diffId)).toBe(true);
    expect(store.isExtracted(rec.diffId)).toBe(false);
    await store.ensureExtracted([rec.diffId]);
    expect(readFileSync(join(store.layerDiffDir(rec.diffId), "etc", "hello"), "utf8")).toBe("hi\n");
    expect(store.getLayer(rec.diffId)?.size).toBe(layer.length);
    await store.ensureExtracted([rec.diffId]); // no-op the second time
    expect(scratch()).toEqual([]);
  });

  test("a hostile layer is refused at first use, leaving nothing", async () => {
    const evil = tar(entry({ name: "../escape", data: "x" }));
    const rec = storeBlobOnly(evil);
    await expect(store.ensureExtracted([rec.diffId])).rejects.toThrow(/escape/);
    expect(store.isExtracted(rec.diffId)).toBe(false);
    expect(existsSync(join(dir, "..", "escape"))).toBe(false);
    expect(scratch()).toEqual([]);
  });

  test("a blob that does not unpack to its DiffID is refused", async () => {
    const rec = storeBlobOnly(layer, "sha256:" + "0".repeat(64));
    await expect(store.ensureExtracted([rec.diffId])).rejects.toThrow(/not its DiffID/);
    expect(store.isExtracted(rec.diffId)).toBe(false);
    expect(scratch()).toEqual([]);
  });

  test("an unknown layer is a clear error", async () => {
    await expect(store.ensureExtracted(["sha256:" + "1".repeat(64)])).rejects.toThrow(/not in the store/);
  });
});
