// `minid export`: a container's merged root as one flat tar, what `docker export` writes.
//
// vfs containers have their full tree on disk. For overlay, the merged view is mounted
// read-only (the container's upper directory stacked as the top lower layer) in a mount
// namespace private to the JS thread, so nothing is ever visible on the host and the kernel
// drops the mount when minid exits, however it exits. Bun's other threads are still in the
// host's namespace; they reach the view through /proc/self/fd/N of an fd opened on it, which
// resolves to the mount whatever namespace the resolving thread is in.
import { closeSync, mkdirSync, openSync, readSync, rmdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { UserError } from "../util/errors.ts";
import {
  CLONE_NEWNS, MNT_DETACH, MS_PRIVATE, MS_RDONLY, MS_REC, O_CLOEXEC, O_DIRECTORY, O_RDONLY, AT_FDCWD,
  chdir, close, mount, openat, umount2, unshare,
} from "../linux/libc.ts";
import { checkStdoutNotTerminal, writeAllSync } from "./archive.ts";
import { removeTree } from "../util/fs.ts";
import { driverByName } from "../storage/select.ts";

let privateNs = false;

/** Move the JS thread into its own mount namespace (once per process). */
export function enterPrivateMountNs(): void {
  if (privateNs) return;
  unshare(CLONE_NEWNS);
  mount(null, "/", null, MS_REC | MS_PRIVATE);
  privateNs = true;
}

/** The directory holding the container's writable layer. */
export function containerUpper(engine: Engine, st: ContainerState): string {
  return driverByName(st.storage.driver).upperDir(engine.containers.containerDir(st.id));
}

/**
 * Run `fn` with a path to the container's merged root (read-only for overlay). The path stays
 * valid from every thread of this process until fn's promise settles.
 */
export async function withMergedView<T>(engine: Engine, st: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
  const upper = containerUpper(engine, st);
  if (st.storage.driver === "vfs") return fn(upper);
  if (st.storage.driver === "aufs") {
    throw new UserError(`export of aufs containers is not supported on this host`);
  }
  const target = engine.images.scratch("merged");
  const empty = `${target}-empty`;
  mkdirSync(target, { mode: 0o700 });
  mkdirSync(empty, { mode: 0o700 });
  let fd = -1;
  let mounted = false;
  const cwd = process.cwd();
  try {
    enterPrivateMountNs();
    const lowers = [...st.storage.lowerdirs].reverse();
    // Layers share a parent: name them relative to it so 100+ layers fit in one page.
    const parents = new Set(lowers.map((d) => dirname(dirname(d))));
    let opts: string;
    if (parents.size === 1 && lowers.every((d) => basename(d) === "diff")) {
      chdir([...parents][0]!);
      opts = `lowerdir=${[upper, ...lowers.map((d) => `${basename(dirname(d))}/diff`), empty].join(":")}`;
    } else {
      opts = `lowerdir=${[upper, ...lowers, empty].join(":")}`;
    }
    if (opts.length > 4095) throw new UserError(`image has too many layers (${lowers.length}) to mount for export`);
    mount("overlay", target, "overlay", MS_RDONLY, opts);
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

export async function exportContainer(engine: Engine, ref: string, output: string | undefined): Promise<void> {
  const st = engine.containers.find(ref);
  const dest = output ?? "-";
  if (dest === "-") checkStdoutNotTerminal("export");
  engine.images.init();
  engine.images.sweep();
  const { writeLayerTar } = await import("./layer-write.ts");
  // writeLayerTar publishes by rename, so stdout gets a scratch file copied out afterwards.
  const file = dest === "-" ? engine.images.scratch("export") : dest;
  try {
    await withMergedView(engine, st, async (root) => {
      await writeLayerTar(root, file, { overlayWhiteouts: false });
    });
    if (dest === "-") copyToStdout(file);
  } finally {
    if (dest === "-") removeTree(file);
  }
}

function copyToStdout(file: string): void {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      writeAllSync(1, buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}
