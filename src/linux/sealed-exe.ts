// CVE-2019-5736 defence in depth for the container's init: init is the minid binary until it
// execs the user's command, so it is started from a read-only bind mount of that binary,
// made in a mount namespace private to the calling (JS) thread. Even a process that managed
// to open /proc/<init>/exe could then not write through it (EROFS); init also makes itself
// non-dumpable so it cannot be opened in the first place. The mount dies with the thread's
// namespace: nothing appears on the host.
import { unshare, mount, openat, CLONE_NEWNS, MS_REC, MS_SLAVE, MS_BIND, MS_REMOUNT, MS_RDONLY, AT_FDCWD, O_RDONLY, O_CLOEXEC } from "./libc.ts";

let sealed: boolean | undefined;
let before = -1;

/**
 * The calling thread's mount namespace from before the seal (an fd, -1 if there was none):
 * the sealed one is a slave copy, and a child that must be a peer of the host's shared mounts
 * (an OCI rootfsPropagation of "shared") goes back to this one before making its own.
 */
export function mountNamespaceBeforeSeal(): number {
  return before;
}

/**
 * Make process.execPath read-only for children spawned from this thread. Idempotent (the
 * first call decides). `keepMountNamespace`: hold the namespace left behind, for
 * mountNamespaceBeforeSeal.
 */
export function sealSelfExecutable(o: { keepMountNamespace?: boolean } = {}): boolean {
  if (sealed !== undefined) return sealed;
  try {
    if (o.keepMountNamespace) before = openat(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
    unshare(CLONE_NEWNS);
    // Slave, not private: host mounts still reach us, ours never reach the host.
    mount(null, "/", null, MS_REC | MS_SLAVE);
    mount(process.execPath, process.execPath, null, MS_BIND);
    mount(null, process.execPath, null, MS_BIND | MS_REMOUNT | MS_RDONLY);
    sealed = true;
  } catch {
    sealed = false; // non-dumpable init still protects; never fail a start over this
  }
  return sealed;
}

export const SEALED_ENV = "MINID_SEALED";

/**
 * Replace this process with itself started from the read-only mount made above, so its
 * /proc/PID/exe is not writable even for a container process holding CAP_SYS_PTRACE (which
 * non-dumpability does not stop). The environment marker stops a second re-exec; argv is the
 * kernel's own copy (/proc/self/cmdline), so source and compiled runs come back identical.
 */
export function reexecSealed(): void {
  if (process.env[SEALED_ENV] === "1") return;
  if (!sealSelfExecutable()) return;
  const { execve } = require("./libc.ts") as typeof import("./libc.ts");
  const { readFileSync } = require("node:fs") as typeof import("node:fs");
  const argv = readFileSync("/proc/self/cmdline", "utf8").split("\0").slice(0, -1);
  const env = Object.entries({ ...process.env, [SEALED_ENV]: "1" }).map(([k, v]) => `${k}=${v}`);
  execve(process.execPath, argv, env);
}
