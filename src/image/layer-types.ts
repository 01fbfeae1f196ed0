// What applyLayer takes and gives back (layer-apply.ts), shared by the files that do its work.

export interface ApplyLimits {
  /** Total uncompressed tar bytes (default 64 GiB). */
  maxBytes?: number;
  /** Number of entries (default 1,000,000). */
  maxEntries?: number;
  /** Uncompressed:compressed ratio (default 1000), enforced once 1 MiB has been produced. */
  maxRatio?: number;
}

export interface ApplyResult {
  /** "sha256:<hex>" of the uncompressed tar. */
  diffId: string;
  /** "sha256:<hex>" of the bytes as given (compressed or not). */
  digest: string;
  compressedSize: number;
  size: number;
  entries: number;
  compression: "none" | "gzip" | "zstd";
}

export type Input = NodeJS.ReadableStream | ReadableStream<Uint8Array> | string;
