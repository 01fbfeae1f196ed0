// The container's terminal, seen from inside. The watcher's pseudo-terminal comes from the
// host's devpts, which the container (with its own devpts instance) cannot see, so `tty`
// would answer "not a tty". As runc does, the terminal is bound onto /dev/console: init takes
// a detached copy of the mount of its stdin (the terminal) before it leaves the host's mount
// namespace, and attaches it at /dev/console once the container's /dev exists.
import { AT_FDCWD, OPEN_TREE_CLONE, O_CLOEXEC, O_CREAT, O_NOFOLLOW, O_WRONLY, realSyscalls } from "../linux/libc.ts";
import type { Syscalls } from "../linux/syscalls.ts";

/** Before the root is set up: a detached mount of the terminal on fd 0. */
export function cloneConsole(sys: Syscalls = realSyscalls): number {
  return sys.openTree(AT_FDCWD, "/proc/self/fd/0", OPEN_TREE_CLONE);
}

/** After pivot_root: the terminal appears as /dev/console. */
export function attachConsole(treeFd: number, sys: Syscalls = realSyscalls): void {
  try {
    // /dev is the container's fresh tmpfs: nothing there can be a planted symlink.
    sys.close(sys.openat(AT_FDCWD, "/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600));
    sys.moveMount(treeFd, "/dev/console");
  } finally {
    sys.close(treeFd);
  }
}
