// A layer's bytes on their way to the extractor: read from a file or a stream, the format
// sniffed (plain, gzip, zstd), decompressed with the size, entry and ratio limits enforced,
// and both digests computed (digest of the bytes as given, diffId of the tar).
import fs from "node:fs";
import type zlibT from "node:zlib";
import { untilEvent } from "../util/stream-event.ts";
import { LayerError } from "./layer-error.ts";
import { RingHasher, inlineHasher, THREAD_HASH_MIN, type Hasher } from "./layer-hash.ts";
import type { ApplyLimits, ApplyResult, Input } from "./layer-types.ts";

/** Where the tar stream goes (the extractor, layer-extract.ts). */
export interface TarSink {
  readonly entries: number;
  push(chunk: Uint8Array): void;
  /** The input ended. */
  end(): void;
}

const RATIO_FLOOR = 1 << 20;
// Feeding a decompressor in slices keeps "compressed bytes consumed" close to what it has really
// consumed, so a bomb is caught after ~maxRatio*64 KiB of output, not after a whole read.
const FEED_SLICE = 64 << 10;

export interface Source {
  chunks: AsyncGenerator<Uint8Array, void, undefined>;
  /** Known for files; decides whether hashing is worth a second thread. */
  size?: number;
  close(): Promise<void>;
}

export function openSource(input: Input): Source {
  if (typeof input !== "string") {
    const chunks = streamChunks(input);
    // Not awaited: if the stream stalls, return() would wait for it.
    return { chunks, close: async () => void chunks.return(undefined).catch(() => {}) };
  }
  let fd: number;
  try {
    fd = fs.openSync(input, "r");
  } catch (e: any) {
    throw new LayerError(`cannot open layer ${input}: ${e?.code ?? e?.message ?? e}`);
  }
  async function* read(): AsyncGenerator<Uint8Array, void, undefined> {
    // One buffer, reused: consumers finish with a chunk before asking for the next one (the
    // decompressor path waits until zlib is done with each slice), and fresh pages are costly.
    const buf = Buffer.allocUnsafe(512 << 10);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  }
  return {
    chunks: read(),
    size: fs.fstatSync(fd).size,
    close: async () => {
      if (fd >= 0) fs.closeSync(fd);
      fd = -1;
    },
  };
}

async function* streamChunks(input: Exclude<Input, string>): AsyncGenerator<Uint8Array, void, undefined> {
  if (typeof (input as ReadableStream).getReader === "function") {
    const reader = (input as ReadableStream<Uint8Array>).getReader();
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          finished = true;
          return;
        }
        yield value;
      }
    } finally {
      if (!finished) reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  } else {
    for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
      yield typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
    }
  }
}

export async function pump(src: Source, x: TarSink, limits: Required<ApplyLimits>): Promise<ApplyResult> {
  const source = src.chunks;
  const hashIn = new Bun.CryptoHasher("sha256");
  // SHA-256 is ~20% of the work of extracting a big layer; on a second core it costs nothing.
  const hashOut: Hasher = (src.size ?? 0) >= THREAD_HASH_MIN ? RingHasher.tryCreate() ?? inlineHasher() : inlineHasher();
  try {
    return await pumpWith(source, x, limits, hashIn, hashOut);
  } finally {
    hashOut.dispose();
  }
}

async function pumpWith(
  source: AsyncGenerator<Uint8Array, void, undefined>,
  x: TarSink,
  limits: Required<ApplyLimits>,
  hashIn: Bun.CryptoHasher,
  hashOut: Hasher,
): Promise<ApplyResult> {
  let compressedSize = 0;
  let size = 0;
  const sink = (b: Uint8Array) => {
    size += b.length;
    if (size > limits.maxBytes) {
      throw new LayerError(`layer rejected: uncompressed size exceeds the limit of ${limits.maxBytes} bytes`);
    }
    hashOut.update(b);
    x.push(b);
  };

  // Sniff the format from the first 4 bytes (reading no further: a header that must be
  // refused should be refused without waiting for more input).
  let head: Uint8Array = new Uint8Array(0);
  let ended = false;
  while (head.length < 4) {
    const r = await source.next();
    if (r.done) {
      ended = true;
      break;
    }
    // Copied: the source may reuse its buffer for the next chunk.
    head = Buffer.concat([head, r.value]);
  }
  const compression: ApplyResult["compression"] =
    head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b
      ? "gzip"
      : head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd
        ? "zstd"
        : "none";
  async function* all(): AsyncGenerator<Uint8Array> {
    if (head.length) yield head;
    while (!ended) {
      let r: IteratorResult<Uint8Array, void>;
      try {
        r = await source.next();
      } catch (e) {
        throw new LayerError(`reading the layer failed: ${((e as Error)?.message ?? String(e)).split("\n")[0]}`);
      }
      if (r.done) return;
      yield r.value;
    }
  }

  if (compression === "none") {
    // digest == diffId: hash once.
    for await (const chunk of all()) {
      compressedSize += chunk.length;
      sink(chunk);
    }
  } else {
    // Imported here: loading node:zlib (and node:stream under it) costs ~30-50 ms.
    const zlib: typeof zlibT = await import("node:zlib");
    if (compression === "zstd" && typeof (zlib as any).createZstdDecompress !== "function") {
      throw new LayerError("layer is zstd-compressed but this runtime has no zstd decoder (zlib.createZstdDecompress)");
    }
    const dec: zlibT.Gunzip =
      compression === "gzip"
        ? zlib.createGunzip({ chunkSize: 128 << 10 })
        : (zlib as any).createZstdDecompress({ chunkSize: 128 << 10 });
    let failure: unknown;
    let fed = 0;
    let produced = 0;
    dec.on("data", (b: Buffer) => {
      if (failure !== undefined) return;
      try {
        produced += b.length;
        if (produced > RATIO_FLOOR && produced > fed * limits.maxRatio) {
          throw new LayerError(
            `layer rejected: ${compression} data expands more than ${limits.maxRatio}:1 (a decompression bomb?)`,
          );
        }
        sink(b);
      } catch (e) {
        failure = e;
        dec.destroy(e as Error);
      }
    });
    // 'error' from destroy(failure) or from corrupt input; 'close' guards against waiting forever.
    dec.on("error", () => {}); // errors are surfaced through untilEvent / failure
    const fail = (e: unknown): never => {
      if (failure !== undefined) throw failure;
      throw new LayerError(`layer rejected: corrupt ${compression} data (${(e as Error)?.message ?? e})`);
    };
    try {
      for await (const chunk of all()) {
        compressedSize += chunk.length;
        hashIn.update(chunk);
        for (let i = 0; i < chunk.length; i += FEED_SLICE) {
          const slice = chunk.subarray(i, i + FEED_SLICE);
          fed += slice.length;
          // The write callback is zlib saying it is done with these bytes: only then may the
          // source reuse its buffer (it does), so no copy is needed.
          await new Promise<void>((resolve) => {
            const done = () => {
              dec.off("close", done);
              resolve();
            };
            dec.once("close", done);
            dec.write(slice, done);
          });
          if (failure !== undefined) throw failure;
          if (dec.destroyed) break;
        }
        if (dec.destroyed) break;
      }
      if (dec.destroyed && failure === undefined) fail(dec.errored ?? "stream closed");
      dec.end();
      await untilEvent(dec, "end");
      if (failure !== undefined) throw failure;
    } catch (e) {
      dec.destroy();
      if (e instanceof LayerError) throw e;
      fail(e);
    }
  }
  x.end();
  const diffId = `sha256:${await hashOut.digest()}`;
  return {
    diffId,
    digest: compression === "none" ? diffId : `sha256:${hashIn.digest("hex")}`,
    compressedSize,
    size,
    entries: x.entries,
    compression,
  };
}
