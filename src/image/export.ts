// `minid export`: a container's merged root as one flat tar, what `docker export` writes.
// The storage driver gives the tree (vfs: its copy; overlay: a private read-only merged view);
// writeLayerTar reads it through fds, never following the container's symlinks.
import { closeSync, openSync, readSync } from "node:fs";
import type { Engine } from "../engine.ts";
import type { ContainerState } from "../container/state.ts";
import { checkStdoutNotTerminal, writeAllSync } from "./archive.ts";
import { removeTree } from "../util/fs.ts";
import { driverByName } from "../storage/select.ts";

/**
 * Run `fn` with a path to the container's merged root (read-only for overlay). The path stays
 * valid from every thread of this process until fn's promise settles.
 */
export function withMergedView<T>(engine: Engine, st: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
  const driver = driverByName(st.storage.driver);
  return driver.withTree(engine.containers.containerDir(st.id), st.storage.lowerdirs, (l) => engine.images.scratch(l), fn);
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

/** A file's bytes to stdout (fd 1), in 1 MiB writes. */
export function copyToStdout(file: string): void {
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
