import { join } from "node:path";
import type { StorageDriver } from "./driver.ts";
import type { RootfsSpec } from "../spec/init-spec.ts";
import { mkdirp } from "../util/fs.ts";
import { copyLayers } from "./copy-tree.ts";

/** A full copy of the image per container: slow and large, but needs no kernel support. */
export const vfsDriver: StorageDriver = {
  name: "vfs",
  prepare(dir: string, lowerdirs: string[]): RootfsSpec {
    const rootfs = join(dir, "rootfs");
    const merged = join(dir, "merged");
    mkdirp(merged);
    copyLayers(lowerdirs, rootfs);
    return { driver: "vfs", target: merged, fstype: "", source: rootfs, data: "" };
  },
  upperDir: (dir) => join(dir, "rootfs"),
};
