import { readFileSync } from "node:fs";
import type { DriverName, StorageDriver } from "./driver.ts";
import { overlayDriver } from "./overlay.ts";
import { aufsDriver } from "./aufs.ts";
import { vfsDriver } from "./vfs.ts";
import { UserError } from "../util/errors.ts";

export function kernelFilesystems(text?: string): Set<string> {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync("/proc/filesystems", "utf8");
    } catch {
      t = "";
    }
  }
  return new Set(t.split("\n").map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean));
}

export interface DriverChoice {
  driver: StorageDriver;
  /** Set when minid fell back from what the user would expect. */
  notice?: string;
}

/**
 * The driver to use: the one asked for, else overlay, else aufs, else vfs with a notice.
 * `filesystems` is injectable so the choice can be unit-tested on any kernel.
 */
export function chooseDriver(requested: string | undefined, filesystems = kernelFilesystems()): DriverChoice {
  const byName: Record<DriverName, StorageDriver> = { overlay: overlayDriver, aufs: aufsDriver, vfs: vfsDriver };
  if (requested) {
    const d = byName[requested as DriverName];
    if (!d) throw new UserError(`unknown storage driver "${requested}" (use overlay, aufs or vfs)`);
    if (d.name !== "vfs" && !filesystems.has(d.name)) {
      throw new UserError(`storage driver ${d.name} is not supported by this kernel (not in /proc/filesystems); try --storage-driver vfs`);
    }
    return { driver: d };
  }
  if (filesystems.has("overlay")) return { driver: overlayDriver };
  if (filesystems.has("aufs")) return { driver: aufsDriver, notice: "overlayfs is not available; using the aufs storage driver" };
  return { driver: vfsDriver, notice: "neither overlayfs nor aufs is available; using the vfs storage driver (full copies)" };
}

export function driverByName(name: DriverName): StorageDriver {
  return ({ overlay: overlayDriver, aufs: aufsDriver, vfs: vfsDriver } as const)[name];
}
