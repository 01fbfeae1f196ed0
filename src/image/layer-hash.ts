// SHA-256 of a layer's uncompressed stream (its diffId), inline or, for big layers, on a
// second thread fed through a ring in shared memory: hashing is ~20% of the work of
// extracting a big layer, and on a second core it costs nothing.

export interface Hasher {
  update(b: Uint8Array): void;
  digest(): Promise<string>;
  dispose(): void;
}

import { writeSync } from "node:fs";

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
 *
 * With `fds`, every byte is also written to each of them, in order, at each fd's offset: inline
 * while small, then by the ring's thread, so that writing the layer (into the store, and into
 * commit -o's archive) runs on the second core too. The fds must stay open until digest() has
 * settled or dispose() has returned; after either, the thread never touches them again.
 */
export function adaptiveHasher(threshold = 8 << 20, fds: number[] = []): Hasher {
  let kept: Uint8Array[] = [];
  let bytes = 0;
  let inner: Hasher | undefined;
  return {
    update(b) {
      if (inner) return inner.update(b);
      for (const fd of fds) writeAll(fd, b);
      kept.push(Uint8Array.prototype.slice.call(b)); // a copy (Buffer#slice would be a view)
      bytes += b.byteLength;
      if (bytes < threshold) return;
      // The kept bytes are written already: the thread only hashes them.
      inner = RingHasher.tryCreate(fds, bytes) ?? writingInline(fds, bytes);
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

/** Where no thread can be had: hash inline, and write inline what comes after the first `skip` bytes. */
function writingInline(fds: number[], skip: number): Hasher {
  const h = inlineHasher();
  let seen = 0;
  return {
    update(b) {
      const from = Math.max(0, Math.min(b.length, skip - seen));
      seen += b.length;
      if (from < b.length) for (const fd of fds) writeAll(fd, from ? b.subarray(from) : b);
      h.update(b);
    },
    digest: () => h.digest(),
    dispose: () => h.dispose(),
  };
}

/** All of `b` to a regular file's fd (a short write is followed by the rest). */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

// The worker drains a single-producer/single-consumer ring in shared memory. Shared memory and
// Atomics rather than postMessage: the extraction loop runs synchronously for long stretches,
// and messages (returned buffers) would only be delivered when it yields to the event loop.
const RING = 8 << 20;
const W = 0; // bytes written (int32, wrapping)
const R = 1; // bytes hashed (int32, wrapping)
const DONE = 2;
const FAILED = 3; // the length of the failure's message in `err` (at least 1)
const ASLEEP = 4; // the worker is (about to be) waiting for data
const ABORT = 5; // dispose(): stop before the next write
// 0 not started, 1 running, 2 disposed before it began, 3 stopped. The worker writes only once
// it has moved this from 0 to 1, and dispose() returns only once it is 2 or 3: after that no
// write can reach an fd the caller closes (whose number may then be reused).
const STATE = 6;
const WAKE_BATCH = 1 << 20; // waking a thread costs ~30 us: do it per MiB, not per chunk
const ERR_MAX = 1024;
const RING_WORKER = `
self.onmessage = (e) => {
  const [ctl, data, fds, skip, errBuf] = e.data;
  const c = new Int32Array(ctl), d = new Uint8Array(data);
  if (Atomics.compareExchange(c, ${STATE}, 0, 1) !== 0) return; // disposed before it began
  try {
    const h = new Bun.CryptoHasher("sha256");
    const fs = fds.length ? require("node:fs") : null;
    let seen = 0;
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
      const seg = d.subarray(pos, pos + n);
      h.update(seg);
      // Written before R moves on: until then the producer cannot refill these bytes.
      const from = Math.max(0, Math.min(n, skip - seen));
      seen += n;
      if (fs && from < n) {
        for (const fd of fds) {
          for (let o = from; o < n; ) {
            if (Atomics.load(c, ${ABORT})) throw new Error("aborted");
            o += fs.writeSync(fd, seg, o, n - o);
          }
        }
      }
      Atomics.store(c, ${R}, (r + n) | 0);
      Atomics.notify(c, ${R});
    }
    const hex = h.digest("hex");
    Atomics.store(c, ${STATE}, 3);
    Atomics.notify(c, ${STATE});
    postMessage(hex);
  } catch (err) {
    // The producer reads this synchronously: its loop does not yield for a message.
    const text = String((err && err.message) || err);
    const msg = new TextEncoder().encode(text).subarray(0, ${ERR_MAX});
    new Uint8Array(errBuf).set(msg);
    Atomics.store(c, ${FAILED}, msg.length || 1);
    Atomics.store(c, ${STATE}, 3);
    Atomics.notify(c, ${STATE});
    Atomics.notify(c, ${R});
    postMessage({ error: text });
  }
};`;

export class RingHasher implements Hasher {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(32));
  private readonly err = new Uint8Array(new SharedArrayBuffer(ERR_MAX));
  private unannounced = 0; // bytes written since the worker was last woken
  private readonly data = new Uint8Array(new SharedArrayBuffer(RING));
  private readonly result: Promise<string>;

  private constructor(
    private readonly worker: Worker,
    fds: number[],
    skip: number,
  ) {
    this.result = new Promise((resolve, reject) => {
      worker.onmessage = (e) => (typeof e.data === "string" ? resolve(e.data) : reject(new Error(e.data?.error)));
      worker.onerror = (e) => reject(new Error(`hash worker failed: ${e.message}`));
    });
    this.result.catch(() => {}); // surfaced by digest()
    worker.postMessage([this.ctl.buffer, this.data.buffer, fds, skip, this.err.buffer]);
  }

  private static url: string | undefined;

  /**
   * null where workers are unavailable: the caller hashes inline instead. With `fds`, the
   * thread also writes every byte after the first `skip` to each of them (adaptiveHasher).
   */
  static tryCreate(fds: number[] = [], skip = 0): RingHasher | null {
    try {
      RingHasher.url ??= URL.createObjectURL(new Blob([RING_WORKER], { type: "application/javascript" }));
      return new RingHasher(new Worker(RingHasher.url), fds, skip);
    } catch {
      return null;
    }
  }

  /** The thread's failure (a write error such as ENOSPC) in its own words. */
  private failure(): Error {
    const n = Atomics.load(this.ctl, FAILED);
    const text = new TextDecoder().decode(this.err.slice(0, n)).trim();
    return new Error(text || "the hashing thread stopped");
  }

  update(b: Uint8Array): void {
    const c = this.ctl;
    if (Atomics.load(c, FAILED)) throw this.failure();
    let off = 0;
    while (off < b.length) {
      const w = Atomics.load(c, W);
      let r = Atomics.load(c, R);
      let waited = 0;
      while (RING - ((w - r) | 0) === 0) {
        // Ring full: the worker is behind. While it runs, it is writing (a slow disk may take
        // its time): wait for it. Give up only on a thread that never started.
        if (Atomics.load(c, FAILED)) throw this.failure();
        if (Atomics.load(c, STATE) === 0 && waited > 10_000) throw new Error("the hashing thread did not start");
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
    const c = this.ctl;
    if (Atomics.compareExchange(c, STATE, 0, 2) === 1) {
      // Running: it may be inside a write to one of the caller's fds. Wait until it has left.
      Atomics.store(c, ABORT, 1);
      Atomics.store(c, DONE, 1);
      Atomics.notify(c, W);
      // No time limit: the thread looks at ABORT before every write, so this lasts one write
      // at most, and returning earlier could let that write land in a reused fd.
      while (Atomics.load(c, STATE) === 1) Atomics.wait(c, STATE, 1, 100);
    }
    this.worker.terminate();
  }
}
