// Making the next child PID 1 of a new PID namespace from a multithreaded Bun process.
// unshare(CLONE_NEWPID) only sets the namespace for the calling thread's future children,
// and while that differs from its own, the kernel refuses to create threads from that thread
// (clone(CLONE_THREAD) → EINVAL), which aborts Bun the next time it grows a thread pool (seen
// as "panic: abort()" about a second into a container's life). So the thread goes back to
// its own namespace right after the spawn.
import { unshare, setns, openat, close, CLONE_NEWPID, AT_FDCWD, O_RDONLY, O_CLOEXEC } from "./libc.ts";

const OWN = "/proc/thread-self/ns/pid";

/** Run `spawn` (which must create exactly the container's init) with a new PID namespace for children. */
export function inNewPidNamespace<T>(spawn: () => T): T {
  const own = openat(AT_FDCWD, OWN, O_RDONLY | O_CLOEXEC);
  try {
    unshare(CLONE_NEWPID);
    try {
      return spawn();
    } finally {
      setns(own, CLONE_NEWPID, OWN);
    }
  } finally {
    close(own);
  }
}

/** Run `spawn` with the PID namespace at `nsPath` (another process's) for children: the child joins it. */
export function inPidNamespaceOf<T>(nsPath: string, spawn: () => T): T {
  const own = openat(AT_FDCWD, OWN, O_RDONLY | O_CLOEXEC);
  try {
    const target = openat(AT_FDCWD, nsPath, O_RDONLY | O_CLOEXEC);
    try {
      setns(target, CLONE_NEWPID, nsPath);
    } finally {
      close(target);
    }
    try {
      return spawn();
    } finally {
      setns(own, CLONE_NEWPID, OWN);
    }
  } finally {
    close(own);
  }
}
