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
