// One interface over the ways a container root can be layered on its image. The engine
// prepares host-side directories; init performs the mount inside the container's own mount
// namespace, so a dead container can never leave a mount on the host.
import type { RootfsSpec } from "../spec/init-spec.ts";

export type DriverName = "overlay" | "aufs" | "vfs";

export interface StorageDriver {
  readonly name: DriverName;
  /**
   * Create the container's writable layer under `dir` over `lowerdirs` (lowest first) and
   * return what init must mount at `<dir>/merged`.
   */
  prepare(dir: string, lowerdirs: string[]): RootfsSpec;
  /** The directory holding the container's own changes (for commit, diff, export). */
  upperDir(dir: string): string;
}
