// The container's terminal, seen from inside. The watcher's pseudo-terminal comes from the
// host's devpts, which the container (with its own devpts instance) cannot see, so `tty`
// would answer "not a tty". As runc does, the terminal is bound onto /dev/console: init takes
// a detached copy of the mount of its stdin (the terminal) before it leaves the host's mount
// namespace, and attaches it at /dev/console once the container's /dev exists.
import { closeSync, openSync, constants } from "node:fs";
import { openTree, moveMountFd, AT_FDCWD, OPEN_TREE_CLONE, O_CLOEXEC } from "../linux/libc.ts";

/** Before the root is set up: a detached mount of the terminal on fd 0. */
export function cloneConsole(): number {
  return openTree(AT_FDCWD, "/proc/self/fd/0", OPEN_TREE_CLONE);
}

/** After pivot_root: the terminal appears as /dev/console. */
export function attachConsole(treeFd: number): void {
  try {
    // /dev is the container's fresh tmpfs: nothing there can be a planted symlink.
    closeSync(openSync("/dev/console", constants.O_CREAT | constants.O_WRONLY | constants.O_NOFOLLOW | O_CLOEXEC, 0o600));
    moveMountFd(treeFd, "/dev/console");
  } finally {
    closeSync(treeFd);
  }
}
