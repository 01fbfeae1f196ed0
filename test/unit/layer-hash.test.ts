// The diffId hashers of layer-hash.ts against a plain sha256 of the same bytes: inline, on the
// ring thread, and the adaptive one a layer writer uses (kept chunks, then the thread), fed
// the way layer-write.ts feeds it (one buffer, refilled after every update).
import { describe, expect, test } from "bun:test";
import { RingHasher, adaptiveHasher, inlineHasher, type Hasher } from "../../src/image/layer-hash.ts";

async function check(make: () => Hasher, chunks: number, chunkSize: number, pause = 0): Promise<void> {
  const h = make();
  const ref = new Bun.CryptoHasher("sha256");
  const buf = Buffer.allocUnsafe(chunkSize);
  try {
    for (let i = 0; i < chunks; i++) {
      buf.fill((i * 7 + chunks) & 255);
      buf.writeUInt32BE(i, 0);
      h.update(buf);
      ref.update(buf);
      if (pause) Bun.sleepSync(pause); // the thread catches up and waits: the tail comes last
    }
    const tail = Buffer.from(`tail of ${chunks}`);
    h.update(tail);
    ref.update(tail);
    expect(await h.digest()).toBe(ref.digest("hex"));
  } finally {
    h.dispose();
  }
}

describe("layer hashers", () => {
  test("inline", () => check(inlineHasher, 3, 1 << 20));
  test("the ring thread, across many wraps of its ring", () => check(() => RingHasher.tryCreate()!, 40, 1 << 20));
  test("adaptive below its threshold: hashed inline from kept copies, not views of the refilled buffer", () => check(() => adaptiveHasher(), 5, 1 << 20));
  test("adaptive past its threshold: the thread takes over, fed what was kept first", async () => {
    for (let k = 0; k < 5; k++) await check(() => adaptiveHasher(), 12 + k, 1 << 20, 1);
  });
});

// With fds, the hasher is also the writer of the layer (into the store and commit -o's
// archive): the bytes, in order, to every fd; a write error in the caller's own words; and no
// write after dispose() has returned (the caller closes the fds, whose numbers are then reused).
describe("layer hashers that also write", () => {
  const { mkdtempSync, openSync, closeSync, readFileSync, fstatSync, rmSync } = require("node:fs") as typeof import("node:fs");
  const { join } = require("node:path") as typeof import("node:path");
  const { tmpdir } = require("node:os") as typeof import("node:os");

  test("every byte to each fd, in order: inline below the threshold, then by the thread", async () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-hash-"));
    try {
      for (const chunks of [3, 20]) {
        const fds = [openSync(join(dir, `a${chunks}`), "w"), openSync(join(dir, `b${chunks}`), "w")];
        const h = adaptiveHasher(8 << 20, fds);
        const ref = new Bun.CryptoHasher("sha256");
        const all: Buffer[] = [];
        const buf = Buffer.allocUnsafe(1 << 20);
        try {
          for (let i = 0; i < chunks; i++) {
            buf.fill((i * 13) & 255);
            buf.writeUInt32BE(i, 100);
            h.update(buf); // the buffer is refilled right after, as layer-write.ts does
            ref.update(buf);
            all.push(Buffer.from(buf));
          }
          expect(await h.digest()).toBe(ref.digest("hex"));
        } finally {
          h.dispose();
          for (const fd of fds) closeSync(fd);
        }
        const want = Buffer.concat(all);
        for (const n of ["a", "b"]) expect(readFileSync(join(dir, `${n}${chunks}`)).equals(want)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a write that fails on the thread (ENOSPC) fails the writer with its message", async () => {
    const full = openSync("/dev/full", "w");
    const h = RingHasher.tryCreate([full])!;
    const buf = Buffer.alloc(1 << 20, 7);
    let err: Error | undefined;
    try {
      for (let i = 0; i < 200 && !err; i++) {
        try {
          h.update(buf);
        } catch (e) {
          err = e as Error;
        }
        Bun.sleepSync(1);
      }
      if (!err) await h.digest().catch((e) => (err = e));
      expect(err?.message).toMatch(/ENOSPC|no space/i);
    } finally {
      h.dispose();
      closeSync(full);
    }
  });

  test("dispose() returns only once the thread has stopped writing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-hash-"));
    try {
      for (let round = 0; round < 5; round++) {
        // Eight fds and a full ring: the thread has 64 MiB to write when dispose() comes.
        const fds = Array.from({ length: 8 }, (_, i) => openSync(join(dir, `f${round}-${i}`), "w"));
        const h = RingHasher.tryCreate(fds)!;
        const buf = Buffer.alloc(1 << 20, round);
        for (let i = 0; i < 8; i++) h.update(buf);
        // Once it has begun: disposed mid-write, not before the thread ever ran.
        for (let t = 0; fstatSync(fds[0]!).size === 0 && t < 2000; t++) Bun.sleepSync(1);
        expect(fstatSync(fds[0]!).size).toBeGreaterThan(0);
        h.dispose();
        const sizes = () => fds.map((fd) => fstatSync(fd).size).join(",");
        const after = sizes();
        Bun.sleepSync(150);
        expect(sizes()).toBe(after);
        for (const fd of fds) closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
