// Network namespaces from a multithreaded Bun process. unshare(CLONE_NEWNET) and
// setns(CLONE_NEWNET) change the calling thread only, so each helper here visits a namespace
// for one synchronous call and returns the thread to its own before anything else runs on
// it (the same dance as pidns.ts). A netlink socket belongs to the namespace it was created
// in, so "a socket in namespace X" is a socket() made during such a visit.
import { unshare, setns, openat, close, CLONE_NEWNET, AT_FDCWD, O_RDONLY, O_CLOEXEC } from "./libc.ts";

const OWN = "/proc/thread-self/ns/net";

/** Run `fn` with the calling thread in the network namespace `nsFd`, then come back. */
export function inNetns<T>(nsFd: number, fn: () => T): T {
  const own = openat(AT_FDCWD, OWN, O_RDONLY | O_CLOEXEC);
  try {
    setns(nsFd, CLONE_NEWNET, "netns");
    try {
      return fn();
    } finally {
      setns(own, CLONE_NEWNET, OWN);
    }
  } finally {
    close(own);
  }
}

/**
 * A new, empty network namespace (only `lo`, down), as an fd. It lives while the fd is open
 * or a process is in it: closing the fd of a namespace nobody joined destroys it, and every
 * interface in it (a veth's host end with it), which is what makes a crash leave nothing.
 * `fn` runs inside the new namespace before the thread leaves it (e.g. to open a netlink
 * socket there).
 */
export function createNetns<T>(fn: (nsFd: number) => T): { nsFd: number; value: T } {
  const own = openat(AT_FDCWD, OWN, O_RDONLY | O_CLOEXEC);
  let nsFd = -1;
  try {
    unshare(CLONE_NEWNET);
    try {
      nsFd = openat(AT_FDCWD, OWN, O_RDONLY | O_CLOEXEC);
      return { nsFd, value: fn(nsFd) };
    } catch (e) {
      if (nsFd >= 0) close(nsFd);
      throw e;
    } finally {
      setns(own, CLONE_NEWNET, OWN);
    }
  } finally {
    close(own);
  }
}

/** The network namespace of a running process, as an fd. */
export function openNetnsOf(pid: number): number {
  return openat(AT_FDCWD, `/proc/${pid}/ns/net`, O_RDONLY | O_CLOEXEC);
}
