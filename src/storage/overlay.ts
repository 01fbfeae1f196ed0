import { join, dirname, basename } from "node:path";
import type { StorageDriver } from "./driver.ts";
import type { RootfsSpec } from "../spec/init-spec.ts";
import { mkdirp } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";

// mount(2) copies at most one page of option data.
const MAX_OPTIONS = 4095;

/**
 * overlayfs options. Lower layers all live in one directory (the layer store), so init
 * chdirs there and names them relatively: this keeps a 50-layer image under a page.
 */
export function overlayOptions(lowerdirs: string[], upper: string, work: string): { data: string; cwd?: string } {
  const top = [...lowerdirs].reverse(); // overlay lists the topmost layer first
  const parents = new Set(top.map((d) => dirname(dirname(d))));
  let lower: string;
  let cwd: string | undefined;
  if (parents.size === 1 && top.every((d) => basename(d) === "diff")) {
    cwd = [...parents][0]!;
    lower = top.map((d) => `${basename(dirname(d))}/diff`).join(":");
  } else {
    lower = top.join(":");
  }
  // redirect_dir and metacopy keep renamed directories and chmod'ed files as xattr stubs in
  // the upper dir, which a layer tar cannot express: commit needs them off.
  const data = `lowerdir=${lower},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off`;
  if (data.length > MAX_OPTIONS) {
    throw new UserError(`image has too many layers (${lowerdirs.length}) for one overlay mount`);
  }
  for (const p of [...lowerdirs, upper, work]) {
    if (/[,:]/.test(p)) throw new UserError(`overlay path may not contain ',' or ':': ${p}`);
  }
  return { data, cwd };
}

export const overlayDriver: StorageDriver = {
  name: "overlay",
  prepare(dir: string, lowerdirs: string[]): RootfsSpec {
    const upper = join(dir, "upper");
    const work = join(dir, "work");
    const merged = join(dir, "merged");
    for (const d of [upper, work, merged]) mkdirp(d);
    // overlay needs at least one lower layer; an image with none stacks on an empty dir.
    const lowers = lowerdirs.length ? lowerdirs : [mkEmpty(dir)];
    const { data, cwd } = overlayOptions(lowers, upper, work);
    return { driver: "overlay", target: merged, fstype: "overlay", source: "overlay", data, cwd };
  },
  upperDir: (dir) => join(dir, "upper"),
};

function mkEmpty(dir: string): string {
  const p = join(dir, "empty");
  mkdirp(p);
  return p;
}
