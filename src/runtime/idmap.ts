// Idmapped bind mounts (a mount's uidMappings/gidMappings, or its idmap/ridmap word with the
// container's own maps): the container sees the source's files with their owners shifted
// through a user namespace made for the mount, so a host directory owned by root shows as
// owned by the root of a container whose root is host uid 100000, without a chown.
//
// create makes each as the host's root, before init starts: a user namespace with the maps
// (a clone that waits while they are written, killed once its namespace is open), a detached
// copy of the source (open_tree), MOUNT_ATTR_IDMAP set on it. Init, in whatever namespaces,
// attaches the copy where the bind would have gone (mounts.ts bindMount): setting the idmap
// needs CAP_SYS_ADMIN over the source's user namespace, which the container's root lacks.
import { isAbsolute, resolve } from "node:path";
import { RuntimeError } from "./errors.ts";
import type { Config, IdMapping, Mount } from "./config.ts";
import { isIdmapped, parseMountOptions } from "./mounts.ts";
import { writeIdMaps } from "./userns.ts";
import { prepareFork, prepareSpawnRaw } from "../linux/forkexec.ts";
import {
  AT_FDCWD, AT_RECURSIVE, CLONE_NEWUSER, MOUNT_ATTR_IDMAP, MS_REC, O_CLOEXEC, O_RDONLY, OPEN_TREE_CLONE,
  SyscallError, close, mountSetattr, openat, openTree,
} from "../linux/libc.ts";

/** The maps a mount is idmapped with: its own, or the container's (the idmap word alone). */
function mountMaps(c: Config, m: Mount): { uid: IdMapping[]; gid: IdMapping[] } {
  const own = Boolean(m.uidMappings?.length || m.gidMappings?.length);
  return own
    ? { uid: m.uidMappings ?? [], gid: m.gidMappings ?? [] }
    : { uid: c.linux?.uidMappings ?? [], gid: c.linux?.gidMappings ?? [] };
}

/**
 * The detached, idmapped trees of config.json's idmapped mounts: mount index → fd (the
 * caller closes them). On an error nothing is left open.
 */
export function idmappedTrees(c: Config, bundle: string): Map<number, number> {
  const trees = new Map<number, number>();
  const userns = new Map<string, number>();
  try {
    for (const [i, m] of (c.mounts ?? []).entries()) {
      if (!isIdmapped(m)) continue;
      const maps = mountMaps(c, m);
      const key = JSON.stringify(maps);
      let ns = userns.get(key);
      if (ns === undefined) {
        ns = userNamespaceWithMaps(maps.uid, maps.gid);
        userns.set(key, ns);
      }
      const o = parseMountOptions(m.options);
      const source = isAbsolute(m.source!) ? m.source! : resolve(bundle, m.source!);
      // rbind decides which mounts the copy holds (as a bind would); ridmap, whether the idmap
      // goes onto the submounts it holds too.
      const recursive = o.idmap === "ridmap";
      let tree: number;
      try {
        tree = openTree(AT_FDCWD, source, OPEN_TREE_CLONE | (o.flags & MS_REC ? AT_RECURSIVE : 0));
      } catch (e) {
        throw new RuntimeError(`cannot make the idmapped mount ${m.destination}: open_tree ${source}: ${(e as SyscallError).code ?? e}`);
      }
      trees.set(i, tree);
      try {
        mountSetattr(tree, recursive, { set: MOUNT_ATTR_IDMAP, clr: 0, userns: ns });
      } catch (e) {
        const code = (e as SyscallError).code ?? String(e);
        const why = code === "EINVAL" ? " (its filesystem does not support idmapped mounts, or a mount under it does not)" : "";
        throw new RuntimeError(`cannot make the idmapped mount ${m.destination} of ${source}: mount_setattr: ${code}${why}`);
      }
    }
    return trees;
  } catch (e) {
    for (const fd of trees.values()) close(fd);
    throw e;
  } finally {
    // A mount holds its user namespace: the fds are not needed once the idmap is set.
    for (const fd of userns.values()) close(fd);
  }
}

const opened = Symbol("user namespace opened");

/**
 * A new user namespace with these maps, as an fd. A multithreaded process cannot unshare one,
 * so a clone makes it and waits (forkexec.ts hold) while its maps are written and its
 * namespace is opened; it is then killed and reaped before it takes a step of its own.
 */
export function userNamespaceWithMaps(uid: IdMapping[], gid: IdMapping[]): number {
  prepareFork();
  // Never run: the child is killed while it waits (afterClone throws `opened`).
  const launch = prepareSpawnRaw({ path: "/", argv: ["/"], envp: [], setns: [], dup: [], setsid: false, keepBelow: 0, inherit: [], cloneFlags: CLONE_NEWUSER, hold: true });
  let fd = -1;
  try {
    launch((pid) => {
      writeIdMaps(pid, uid, gid);
      fd = openat(AT_FDCWD, `/proc/${pid}/ns/user`, O_RDONLY | O_CLOEXEC);
      throw opened;
    });
  } catch (e) {
    if (e === opened) return fd;
    if (fd >= 0) close(fd);
    if (e instanceof RuntimeError) throw e;
    throw new RuntimeError(`cannot make a user namespace for an idmapped mount: ${(e as Error).message}`);
  }
  throw new RuntimeError("cannot make a user namespace for an idmapped mount: the child ran");
}
