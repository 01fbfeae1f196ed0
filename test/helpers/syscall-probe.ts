// A tiny static program that makes raw system calls and prints "nr=errno" for each, so a test
// can ask a container's kernel view what the seccomp filter refuses. Built with gcc on demand
// (.ci/run installs gcc and libc6-dev); `requires("gcc")` gates the tests that use it.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SOURCE = String.raw`
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
/* Each argument is a syscall number; every call gets the same harmless, invalid arguments
   (-1 then zeros), so an unfiltered kernel answers EINVAL/EFAULT/EBADF/ENOSYS, not EPERM. */
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    long nr = strtol(argv[i], 0, 10);
    errno = 0;
    long r = syscall(nr, -1L, 0L, 0L, 0L, 0L, 0L);
    printf("%ld=%d\n", nr, r == -1 ? errno : 0);
  }
  return 0;
}
`;

/** Compile the probe into dir (once) and return its path. */
export function buildProbe(dir: string): string {
  const bin = join(dir, "syscall-probe");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "syscall-probe.c"), SOURCE);
  const r = Bun.spawnSync(["gcc", "-static", "-O", "-o", bin, join(dir, "syscall-probe.c")], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`gcc failed: ${r.stderr.toString()}`);
  return bin;
}

/** "nr=errno" lines → map. */
export function parseProbe(out: string): Record<number, number> {
  const m: Record<number, number> = {};
  for (const l of out.trim().split("\n")) {
    const [nr, err] = l.split("=");
    if (nr && err !== undefined) m[Number(nr)] = Number(err);
  }
  return m;
}

/**
 * Calls on the deny list whose refusal this host can tell apart from the kernel's own answer:
 * without the filter (and with the default capabilities) each gives an errno other than EPERM.
 */
export const PROBED: Record<string, number> = {
  uselib: 134, ustat: 136, sysfs: 139, settimeofday: 164, mount: 165, iopl: 172,
  mbind: 237, add_key: 248, request_key: 249, keyctl: 250, unshare: 272, perf_event_open: 298,
  open_by_handle_at: 304, setns: 308, bpf: 321, userfaultfd: 323, io_uring_setup: 425,
};
export const EPERM = 1;
