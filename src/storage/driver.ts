// One interface over the ways a container root can be layered on its image. The engine
// prepares host-side directories; init performs the mount inside the container's own mount
// namespace, so a dead container can never leave a mount on the host. Everything callers need
// to know about a driver (what init mounts, where the changes are and how deletions are
// spelled there, how to read the merged tree) is asked of it here: no caller branches on names.
import type { RootfsSpec } from "../spec/init-spec.ts";

export type DriverName = "overlay" | "aufs" | "vfs";

/** Where a container's changes can be read from, for commit. */
export type ChangeSource =
  /** A directory holding exactly the changes (a layer in overlay or aufs form). */
  | {
      kind: "upper";
      dir: string;
      /** Deletions are overlayfs whiteouts (0/0 char devices, opaque xattrs) to convert. */
      overlayWhiteouts: boolean;
      /** Driver bookkeeping entries at the top of `dir` that are not changes. */
      skip: string[];
    }
  /** No such directory: compare the merged tree with the image layers (the naive diff). */
  | { kind: "full-tree" };

export interface StorageDriver {
  readonly name: DriverName;
  /**
   * Create the container's writable layer under `dir` over `lowerdirs` (lowest first) and
   * return what init must mount at `<dir>/merged`. Called once, at create.
   */
  prepare(dir: string, lowerdirs: string[]): RootfsSpec;
  /** What init mounts at each start of a prepared container (no copying, no new layer). */
  rootfs(dir: string, lowerdirs: string[]): RootfsSpec;
  /** The directory holding the container's own changes. */
  upperDir(dir: string): string;
  /** Where commit reads the container's changes. */
  changes(dir: string): ChangeSource;
  /**
   * Run `fn` with a path to the container's merged root, valid from every thread of this
   * process until fn's promise settles. `scratch` names a fresh path in minid's own store.
   */
  withTree<T>(dir: string, lowerdirs: string[], scratch: (label: string) => string, fn: (root: string) => Promise<T>): Promise<T>;
  /**
   * Run `fn` with a writable path to the (not running) container's merged root; what fn
   * writes there is the container's change, as if its own process had written it (build's
   * COPY and WORKDIR). Valid from every thread of this process until fn's promise settles.
   */
  withWritableTree<T>(dir: string, lowerdirs: string[], fn: (root: string) => Promise<T>): Promise<T>;
  /**
   * Whether the upper directory of a container that never ran, with private bookkeeping
   * stripped, is exactly the extracted tree of the layer commit writes from it (so build can
   * rename it into the layer store instead of unpacking the tar again).
   */
  readonly upperIsLayerTree: boolean;
}
