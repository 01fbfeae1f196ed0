// The seam between the code that shapes a container (linux/rootfs.ts, linux/safepath.ts,
// container/init.ts) and the kernel. Production passes `realSyscalls` (linux/libc.ts), which
// is the FFI bindings themselves; tests pass a recording fake (test/helpers/fake-syscalls.ts)
// so the exact order of mounts, opens and namespace calls can be checked without root, and a
// failure can be injected at any step.
//
// Only calls that change or inspect what a container sees belong here. Byte-exact layer
// extraction (fsat) and the exec path keep calling libc.ts directly.

/** A thread's capability sets (64-bit masks, bit n = capability n), as capget/capset take them. */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** What `stat` reports: the file's kind after following symlinks, and its device number. */
export interface FileStat {
  kind: "dir" | "file" | "char" | "block" | "fifo" | "socket" | "symlink" | "other";
  rdev: number;
}

export interface Syscalls {
  // Mounts and the root
  mount(source: string | null, target: string, fstype: string | null, flags: number, data?: string | null): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chdir(path: string): void;
  /** open_tree(2) (with OPEN_TREE_CLONE for a detached copy); returns the tree's fd. */
  openTree(dirfd: number, path: string, flags: number): number;
  /** move_mount(2) of a detached tree onto a path, or onto what an O_PATH fd is open on. */
  moveMount(fromFd: number, to: string | number): void;
  /** mount_setattr(2) on the mount an fd refers to; `recursive`: with its submounts (AT_RECURSIVE). */
  mountSetattr(fd: number, recursive: boolean, attr: { set: number; clr: number; userns?: number }): void;

  // Files, relative to directory fds
  openat(dirfd: number, path: string, flags: number, mode?: number): number;
  openat2(dirfd: number, path: string, flags: number, resolve: number, mode?: number): number;
  close(fd: number): void;
  mkdirat(dirfd: number, name: string, mode: number): void;
  mknodat(dirfd: number, name: string, mode: number, dev: number): void;
  symlinkat(target: string, dirfd: number, linkpath: string): void;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  unlinkat(dirfd: number, name: string, flags: number): void;

  // Files by path (in practice /proc/self/fd/N/... of an fd opened above)
  /** mkdir(2) of one directory; the umask applies, as with mkdirSync. */
  mkdir(path: string, mode?: number): void;
  chmod(path: string, mode: number): void;
  readlink(path: string): string;
  /** stat(2), following symlinks; throws (code ENOENT, ...) when the path does not resolve. */
  stat(path: string): FileStat;
  readFile(path: string): string;
  writeFile(path: string, data: string): void;

  // Namespaces and process attributes
  unshare(flags: number): void;
  setns(fd: number, nstype: number, path?: string): void;
  prctl(option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number): number;
  sethostname(name: string): void;
  interfaceUp(name: string): void;
  capget(): CapSets;
  capset(sets: CapSets): void;

  // Identity and confinement (the calling thread's; init execs from it right after)
  setgroups(gids: number[]): void;
  setgid(gid: number): void;
  setuid(uid: number): void;
  /** Load a seccomp filter: `filter` is struct sock_filter[] (8 bytes per instruction). */
  seccompFilter(filter: Uint8Array): void;
}
