import { join } from "node:path";
import type { StorageDriver } from "./driver.ts";
import type { RootfsSpec } from "../spec/init-spec.ts";
import { mkdirp } from "../util/fs.ts";
import { copyLayers } from "./copy-tree.ts";

function spec(dir: string): RootfsSpec {
  return { driver: "vfs", target: join(dir, "merged"), fstype: "", source: join(dir, "rootfs"), data: "" };
}

/** A full copy of the image per container: slow and large, but needs no kernel support. */
export const vfsDriver: StorageDriver = {
  name: "vfs",
  prepare(dir: string, lowerdirs: string[]): RootfsSpec {
    mkdirp(join(dir, "merged"));
    copyLayers(lowerdirs, join(dir, "rootfs"));
    return spec(dir);
  },
  // The copy is made once, at create.
  rootfs: (dir) => spec(dir),
  upperDir: (dir) => join(dir, "rootfs"),
  // The full copy is the tree: its changes are what differs from the layers.
  changes: () => ({ kind: "full-tree" }),
  withTree: (dir, _lowers, _scratch, fn) => fn(join(dir, "rootfs")),
  // The copy is the full tree: writing into it is writing into the container.
  withWritableTree: (dir, _lowers, fn) => fn(join(dir, "rootfs")),
  // ...and it holds the image's files too, so it is never a layer by itself.
  upperIsLayerTree: false,
};
