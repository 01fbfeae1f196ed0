// A separate process that publishes into an image store, for the crash-point test of
// ImageStore.publish (test/unit/store-publish.test.ts). Its pins carry its own pid, as a real
// minid's do, so what a crash or a concurrent gc leaves is what a real one would leave.
//
//   bun publish-child.ts ROOT base              publish image "base:1" (one layer)
//   bun publish-child.ts ROOT crash STEP        publish "new:1" over base, SIGKILL after STEP
//   bun publish-child.ts ROOT race              publish "new:1"; at every step another process
//                                               removes base:1 (rmi) and runs gc
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ImageStore, MEDIA, sha256, type LayerRecord, type PublishStep } from "../../src/image/store.ts";
import { emptyConfig } from "../../src/image/config.ts";

const [root, mode, arg] = process.argv.slice(2) as [string, string, string | undefined];
const store = new ImageStore(root);
store.init();

function stageLayer(label: string): { rec: LayerRecord; blob: string; dir: string } {
  const content = `tar bytes of ${label} ${"x".repeat(100)}`;
  const blob = store.scratch(`${label}-blob`);
  writeFileSync(blob, content);
  const dir = store.scratch(label);
  mkdirSync(join(dir, "diff"), { recursive: true });
  writeFileSync(join(dir, "diff", `${label}.txt`), label);
  const digest = sha256(content);
  const rec: LayerRecord = { diffId: digest, digest, mediaType: MEDIA.ociLayer, size: content.length, compressedSize: content.length, created: new Date(0).toISOString() };
  return { rec, blob, dir };
}

function image(layers: LayerRecord[]) {
  const config = emptyConfig();
  config.rootfs.diff_ids = layers.map((l) => l.diffId);
  return { config, layers: layers.map((l) => ({ diffId: l.diffId, digest: l.digest, mediaType: l.mediaType, size: l.compressedSize })) };
}

if (mode === "base") {
  const l = stageLayer("base");
  store.publish({ layers: [l], images: [{ ...image([l.rec]), tags: ["base:1"] }] });
  process.exit(0);
}

const baseId = store.tags()["base:1"]!;
const base = store.getImage(baseId)!;
const baseLayer = store.getLayer(base.layers[0]!.diffId)!;
const l = stageLayer("new");
if (mode === "crash") {
  store.publishHook = (s: PublishStep) => {
    if (s === arg) process.kill(process.pid, "SIGKILL");
  };
} else if (mode === "race") {
  const script = `
    import { ImageStore } from ${JSON.stringify(join(import.meta.dir, "../../src/image/store.ts"))};
    const s = new ImageStore(${JSON.stringify(root)});
    const id = s.tags()["base:1"];
    if (id) { s.removeTag("base:1"); s.deleteImage(id); }
    s.gc();`;
  store.publishHook = () => {
    const r = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`concurrent rmi/gc failed: ${r.stderr}`);
  };
}
const [img] = store.publish({ layers: [l], reuse: [baseLayer.diffId], images: [{ ...image([baseLayer, l.rec]), tags: ["new:1"] }] });
console.log(JSON.stringify(img));
