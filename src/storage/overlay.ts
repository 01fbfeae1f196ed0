import { mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import type { StorageDriver } from "./driver.ts";
import type { RootfsSpec } from "../spec/init-spec.ts";
import { mkdirp } from "../util/fs.ts";
import { UserError } from "../util/errors.ts";
import { relativeToStore } from "./layout.ts";
import {
  CLONE_NEWNS, MNT_DETACH, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, O_CLOEXEC, O_DIRECTORY, O_RDONLY, AT_FDCWD,
  chdir, close, mount, openat, umount2, unshare,
} from "../linux/libc.ts";

// mount(2) copies at most one page of option data.
const MAX_OPTIONS = 4095;

/**
 * overlayfs options. Lower layers all live in one directory (the layer store), so init
 * chdirs there and names them relatively: this keeps a 50-layer image under a page.
 */
export function overlayOptions(lowerdirs: string[], upper: string, work: string): { data: string; cwd?: string } {
  const top = [...lowerdirs].reverse(); // overlay lists the topmost layer first
  const rel = relativeToStore(top);
  const lower = (rel?.names ?? top).join(":");
  const cwd = rel?.cwd;
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

function prepare(dir: string, lowerdirs: string[]): RootfsSpec {
  const upper = join(dir, "upper");
  const work = join(dir, "work");
  const merged = join(dir, "merged");
  for (const d of [upper, work, merged]) mkdirp(d);
  // overlay needs at least one lower layer; an image with none stacks on an empty dir.
  const lowers = lowerdirs.length ? lowerdirs : [mkEmpty(dir)];
  const { data, cwd } = overlayOptions(lowers, upper, work);
  return { driver: "overlay", target: merged, fstype: "overlay", source: "overlay", data, cwd };
}

function featureOn(name: string): boolean {
  try {
    const v = readFileSync(`/sys/module/overlay/parameters/${name}`, "utf8").trim();
    return v === "Y" || v === "on" || v === "follow";
  } catch {
    return false;
  }
}

export const overlayDriver: StorageDriver = {
  name: "overlay",
  prepare,
  rootfs: prepare, // only directories to (re)make: the layer is the upper dir
  upperDir: (dir) => join(dir, "upper"),
  changes(dir) {
    // redirect_dir and metacopy leave xattr stubs in the upper dir, which is then no plain
    // diff. MINID_NAIVE_DIFF=1 forces the full-tree comparison (tests use it to cover it).
    if (process.env.MINID_NAIVE_DIFF === "1" || featureOn("redirect_dir") || featureOn("metacopy")) return { kind: "full-tree" };
    return { kind: "upper", dir: join(dir, "upper"), overlayWhiteouts: true, skip: [] };
  },
  withTree: mergedView,
  withWritableTree,
  // A never-started container's upper dir holds only what was written through the mount,
  // in the store's own (overlay) whiteout form.
  upperIsLayerTree: true,
};

/**
 * The container's own overlay, mounted read-write in the JS thread's private mount namespace
 * (as the merged view is), so the host never sees it and it cannot outlive this process.
 */
async function withWritableTree<T>(dir: string, lowerdirs: string[], fn: (root: string) => Promise<T>): Promise<T> {
  const spec = prepare(dir, lowerdirs);
  enterPrivateMountNs();
  const cwd = process.cwd();
  try {
    if (spec.cwd) chdir(spec.cwd);
    mount(spec.source, spec.target, spec.fstype, 0, spec.data);
  } finally {
    chdir(cwd);
  }
  let fd = -1;
  try {
    fd = openat(AT_FDCWD, spec.target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return await fn(`/proc/self/fd/${fd}`);
  } finally {
    if (fd >= 0) close(fd);
    umount2(spec.target, MNT_DETACH);
  }
}

let privateNs = false;

/** Move the JS thread into its own mount namespace (once per process; build mounts there too). */
export function enterPrivateMountNs(): void {
  if (privateNs) return;
  unshare(CLONE_NEWNS);
  mount(null, "/", null, MS_REC | MS_PRIVATE);
  privateNs = true;
}

/**
 * The merged view, mounted read-only (the container's upper directory stacked as the top lower
 * layer) in a mount namespace private to the JS thread, so nothing is ever visible on the host
 * and the kernel drops the mount when minid exits, however it exits. Bun's other threads are
 * still in the host's namespace; they reach the view through /proc/self/fd/N of an fd opened on
 * it, which resolves to the mount whatever namespace the resolving thread is in.
 */
async function mergedView<T>(dir: string, lowerdirs: string[], scratch: (label: string) => string, fn: (root: string) => Promise<T>): Promise<T> {
  const upper = join(dir, "upper");
  const target = scratch("merged");
  const empty = `${target}-empty`;
  mkdirSync(target, { mode: 0o700 });
  mkdirSync(empty, { mode: 0o700 });
  let fd = -1;
  let mounted = false;
  const cwd = process.cwd();
  try {
    enterPrivateMountNs();
    const lowers = [...lowerdirs].reverse();
    const rel = relativeToStore(lowers);
    if (rel) chdir(rel.cwd);
    const opts = `lowerdir=${[upper, ...(rel?.names ?? lowers), empty].join(":")}`;
    if (opts.length > 4095) throw new UserError(`image has too many layers (${lowers.length}) to mount for export`);
    // nodev, nosuid: nothing in the view can be opened as a device or gain privileges.
    mount("overlay", target, "overlay", MS_RDONLY | MS_NODEV | MS_NOSUID, opts);
    mounted = true;
    chdir(cwd);
    fd = openat(AT_FDCWD, target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return await fn(`/proc/self/fd/${fd}/.`);
  } finally {
    try {
      chdir(cwd);
    } catch {}
    if (fd >= 0) close(fd);
    if (mounted) umount2(target, MNT_DETACH);
    for (const d of [target, empty]) {
      try {
        rmdirSync(d);
      } catch {}
    }
  }
}

function mkEmpty(dir: string): string {
  const p = join(dir, "empty");
  mkdirp(p);
  return p;
}
