// ImageStore.publish, the one store operation commit/import/load/pull publish through: a crash
// after each of its steps leaves a consistent store, and a concurrent rmi + gc at each step
// never deletes what is being published. Runs without root: the store is plain files.
import { describe, expect, test, afterAll } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ImageStore, type PublishStep } from "../../src/image/store.ts";

const CHILD = join(import.meta.dir, "..", "helpers", "publish-child.ts");
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function child(root: string, ...args: string[]) {
  const r = Bun.spawnSync([process.execPath, CHILD, root, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, signal: r.signalCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function freshRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "minid-publish-"));
  roots.push(root);
  const b = child(root, "base");
  expect(b.stderr).toBe("");
  expect(b.code).toBe(0);
  return root;
}

/** Every record the store shows is complete: tags name images, images name present layers and blobs. */
function expectConsistent(store: ImageStore): void {
  for (const [tag, id] of Object.entries(store.tags())) {
    expect({ tag, image: Boolean(store.getImage(id)) }).toEqual({ tag, image: true });
  }
  for (const img of store.listImages()) {
    expect(store.hasBlob(img.configDigest)).toBe(true);
    for (const l of img.layers) {
      expect({ layer: l.diffId, present: store.hasLayer(l.diffId), blob: store.hasBlob(l.digest) }).toEqual({ layer: l.diffId, present: true, blob: true });
    }
  }
}

const STEPS: PublishStep[] = ["pinned", "blobs", "layers", "image", "tagged"];

describe("store.publish", () => {
  for (const [i, step] of STEPS.entries()) {
    test(`a crash after "${step}" leaves the store consistent`, () => {
      const root = freshRoot();
      const r = child(root, "crash", step);
      expect(r.signal).toBe("SIGKILL");
      const store = new ImageStore(root);
      expectConsistent(store);
      const published = store.tags()["new:1"];
      // Published only once the record exists; tagged only after the last step.
      expect(Boolean(published)).toBe(i >= STEPS.indexOf("tagged"));
      const records = store.listImages().length;
      expect(records).toBe(i >= STEPS.indexOf("image") ? 2 : 1);
      // The dead writer's temp files go; gc keeps everything a record needs, drops the rest.
      store.sweep();
      store.gc();
      expectConsistent(store);
      expect(readdirSync(store.tmpDir)).toEqual([]);
      expect(store.listImages().length).toBe(records);
      const layers = readdirSync(join(root, "image", "layers")).length;
      expect(layers).toBe(i >= STEPS.indexOf("image") ? 2 : 1);
      // The base image survived whatever happened.
      expect(store.resolve("base:1")).toBeDefined();
    });
  }

  test("a concurrent rmi of the reused image and a gc at every step never delete what is being published", () => {
    const root = freshRoot();
    const r = child(root, "race");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const store = new ImageStore(root);
    // The other process really removed base:1 …
    expect(store.tags()["base:1"]).toBeUndefined();
    // … yet the new image, which stacks base's layer, is complete.
    const img = store.resolve("new:1")!;
    expect(img).toBeDefined();
    expect(img.layers.length).toBe(2);
    expectConsistent(store);
    for (const l of img.layers) expect(existsSync(join(root, "image", "layers", l.diffId.slice(7), "layer.json"))).toBe(true);
  });
});
