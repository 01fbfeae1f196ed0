import { join } from "node:path";
import type { StorageDriver } from "./driver.ts";
import type { RootfsSpec } from "../spec/init-spec.ts";
import { mkdirp } from "../util/fs.ts";

/** aufs branch list: the writable layer first, then lower layers topmost-first, read-only. */
export function aufsOptions(lowerdirs: string[], upper: string): string {
  const lowers = [...lowerdirs].reverse().map((d) => `${d}=ro`);
  return `dirs=${[`${upper}=rw`, ...lowers].join(":")}`;
}

export const aufsDriver: StorageDriver = {
  name: "aufs",
  prepare(dir: string, lowerdirs: string[]): RootfsSpec {
    const upper = join(dir, "upper");
    const merged = join(dir, "merged");
    for (const d of [upper, merged]) mkdirp(d);
    return { driver: "aufs", target: merged, fstype: "aufs", source: "none", data: aufsOptions(lowerdirs, upper) };
  },
  upperDir: (dir) => join(dir, "upper"),
};
