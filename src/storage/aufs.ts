import { join } from "node:path";
import type { StorageDriver } from "./driver.ts";
import type { RootfsSpec } from "../spec/init-spec.ts";
import { mkdirp } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";

/** aufs branch list: the writable layer first, then lower layers topmost-first, read-only. */
export function aufsOptions(lowerdirs: string[], upper: string): string {
  const lowers = [...lowerdirs].reverse().map((d) => `${d}=ro`);
  return `dirs=${[`${upper}=rw`, ...lowers].join(":")}`;
}

/** aufs's own bookkeeping at the top of its writable branch: never part of a layer. */
export const AUFS_META = [".wh..wh.plnk", ".wh..wh.aufs", ".wh..wh.orph"];

export const aufsDriver: StorageDriver = {
  name: "aufs",
  prepare(dir: string, lowerdirs: string[]): RootfsSpec {
    const upper = join(dir, "upper");
    const merged = join(dir, "merged");
    for (const d of [upper, merged]) mkdirp(d);
    return { driver: "aufs", target: merged, fstype: "aufs", source: "none", data: aufsOptions(lowerdirs, upper) };
  },
  rootfs(dir: string, lowerdirs: string[]): RootfsSpec {
    return aufsDriver.prepare(dir, lowerdirs);
  },
  upperDir: (dir) => join(dir, "upper"),
  // aufs spells deletions as OCI does (.wh. files), so its branch is a layer as it stands.
  changes: (dir) => ({ kind: "upper", dir: join(dir, "upper"), overlayWhiteouts: false, skip: AUFS_META }),
  upperIsLayerTree: false,
  async withWritableTree() {
    throw new UserError(`build of aufs containers is not supported on this host`);
  },
  async withTree() {
    throw new UserError(`export of aufs containers is not supported on this host`);
  },
};
