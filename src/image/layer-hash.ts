// SHA-256 of a layer's uncompressed stream (its diffId), inline or, for big layers, on a
// second thread fed through a ring in shared memory: hashing is ~20% of the work of
// extracting a big layer, and on a second core it costs nothing.

export interface Hasher {
  update(b: Uint8Array): void;
  digest(): Promise<string>;
  dispose(): void;
}

export const THREAD_HASH_MIN = 32 << 20;

export function inlineHasher(): Hasher {
  const h = new Bun.CryptoHasher("sha256");
  return { update: (b) => void h.update(b), digest: async () => h.digest("hex"), dispose: () => {} };
}

/**
 * For a stream whose length is not known ahead (a layer tar being written): inline while it is
 * small, since starting a thread costs ~10 ms, more than hashing a build step's layer outright;
 * once `threshold` bytes have come, a RingHasher takes over, fed what was kept so far. The
 * caller may reuse its buffer after update() (the bytes are copied).
 */
export function adaptiveHasher(threshold = 8 << 20): Hasher {
  let kept: Uint8Array[] = [];
  let bytes = 0;
  let inner: Hasher | undefined;
  return {
    update(b) {
      if (inner) return inner.update(b);
      kept.push(Uint8Array.prototype.slice.call(b)); // a copy (Buffer#slice would be a view)
      bytes += b.byteLength;
      if (bytes < threshold) return;
      inner = RingHasher.tryCreate() ?? inlineHasher();
      for (const k of kept) inner.update(k);
      kept = [];
    },
    async digest() {
      if (inner) return inner.digest();
      const h = new Bun.CryptoHasher("sha256");
      for (const k of kept) h.update(k);
      return h.digest("hex");
    },
    dispose() {
      kept = [];
      inner?.dispose();
    },
  };
}

// The worker drains a single-producer/single-consumer ring in shared memory. Shared memory and
// Atomics rather than postMessage: the extraction loop runs synchronously for long stretches,
// and messages (returned buffers) would only be delivered when it yields to the event loop.
const RING = 8 << 20;
const W = 0; // bytes written (int32, wrapping)
const R = 1; // bytes hashed (int32, wrapping)
const DONE = 2;
const FAILED = 3;
const ASLEEP = 4; // the worker is (about to be) waiting for data
const WAKE_BATCH = 1 << 20; // waking a thread costs ~30 us: do it per MiB, not per chunk
const RING_WORKER = `
self.onmessage = (e) => {
  const [ctl, data] = e.data;
  const c = new Int32Array(ctl), d = new Uint8Array(data);
  try {
    const h = new Bun.CryptoHasher("sha256");
    for (;;) {
      const r = Atomics.load(c, ${R}), w = Atomics.load(c, ${W});
      if (w === r) {
        // Done, and nothing written after the W read above (the last bytes and DONE may land
        // between the two loads: they must still be hashed).
        if (Atomics.load(c, ${DONE})) {
          if (Atomics.load(c, ${W}) !== w) continue;
          break;
        }
        Atomics.store(c, ${ASLEEP}, 1);
        if (Atomics.load(c, ${W}) === w && !Atomics.load(c, ${DONE})) Atomics.wait(c, ${W}, w, 20);
        Atomics.store(c, ${ASLEEP}, 0);
        continue;
      }
      const pos = r & ${RING - 1}, n = Math.min((w - r) | 0, ${RING} - pos);
      h.update(d.subarray(pos, pos + n));
      Atomics.store(c, ${R}, (r + n) | 0);
      Atomics.notify(c, ${R});
    }
    postMessage(h.digest("hex"));
  } catch (err) {
    Atomics.store(c, ${FAILED}, 1);
    Atomics.notify(c, ${R});
    postMessage({ error: String(err) });
  }
};`;

export class RingHasher implements Hasher {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(32));
  private unannounced = 0; // bytes written since the worker was last woken
  private readonly data = new Uint8Array(new SharedArrayBuffer(RING));
  private readonly result: Promise<string>;

  private constructor(private readonly worker: Worker) {
    this.result = new Promise((resolve, reject) => {
      worker.onmessage = (e) => (typeof e.data === "string" ? resolve(e.data) : reject(new Error(e.data?.error)));
      worker.onerror = (e) => reject(new Error(`hash worker failed: ${e.message}`));
    });
    this.result.catch(() => {}); // surfaced by digest()
    worker.postMessage([this.ctl.buffer, this.data.buffer]);
  }

  private static url: string | undefined;

  /** null where workers are unavailable: the caller hashes inline instead. */
  static tryCreate(): RingHasher | null {
    try {
      RingHasher.url ??= URL.createObjectURL(new Blob([RING_WORKER], { type: "application/javascript" }));
      return new RingHasher(new Worker(RingHasher.url));
    } catch {
      return null;
    }
  }

  update(b: Uint8Array): void {
    const c = this.ctl;
    let off = 0;
    while (off < b.length) {
      const w = Atomics.load(c, W);
      let r = Atomics.load(c, R);
      let waited = 0;
      while (RING - ((w - r) | 0) === 0) {
        // Ring full: the worker is behind. Block briefly; never forever.
        if (Atomics.load(c, FAILED) || waited > 10_000) throw new Error("the hashing thread stopped");
        Atomics.notify(c, W);
        Atomics.wait(c, R, r, 50);
        waited += 50;
        r = Atomics.load(c, R);
      }
      const pos = w & (RING - 1);
      const n = Math.min(RING - ((w - r) | 0), b.length - off, RING - pos);
      this.data.set(b.subarray(off, off + n), pos);
      Atomics.store(c, W, (w + n) | 0);
      this.unannounced += n;
      // A sleeping worker also wakes by itself every 20 ms, so a skipped wake only delays it.
      if (this.unannounced >= WAKE_BATCH && Atomics.load(c, ASLEEP)) {
        Atomics.notify(c, W);
        this.unannounced = 0;
      }
      off += n;
    }
  }

  digest(): Promise<string> {
    Atomics.store(this.ctl, DONE, 1);
    Atomics.notify(this.ctl, W);
    return this.result;
  }

  dispose(): void {
    Atomics.store(this.ctl, DONE, 1);
    this.worker.terminate();
  }
}
