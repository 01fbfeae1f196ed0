// runc's --preserve-fds N for create, run and exec: the caller's fds 3 … 3+N-1 reach the
// container's process at the same numbers (socket activation's LISTEN_FDS, Podman's
// --preserve-fds). They are passed to init (or exec's process) in place, with its channel to
// us right after them, and survive its close-on-exec sweep, which starts past them.
import { fstatSync } from "node:fs";
import { setInheritable } from "../linux/libc.ts";
import { RuntimeError } from "./errors.ts";

/**
 * --preserve-fds N (runc's): how many fds from 3 up go to the container process as they are
 * (socket activation: LISTEN_FDS). Each must be open here; init's own channel goes after them.
 */
export function preservedFds(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value) || Number(value) > 1024) throw new RuntimeError(`invalid --preserve-fds ${JSON.stringify(value)}: a number of file descriptors from 3 up`);
  const n = Number(value);
  for (let fd = 3; fd < 3 + n; fd++) {
    try {
      fstatSync(fd);
    } catch {
      throw new RuntimeError(`--preserve-fds ${n}: file descriptor ${fd} is not open`);
    }
  }
  return n;
}

/**
 * Right before execve: a Bun process starts with every inherited fd from 4 up close-on-exec
 * (measured here, Bun 1.4.5), so the preserved ones are made inheritable again.
 */
export function inheritPreserved(n: number): void {
  for (let fd = 3; fd < 3 + n; fd++) setInheritable(fd);
}

/** stdio for init or exec's process: ours, the preserved fds at 3 …, then the channel (its number: 3 + N). */
export function childStdio(terminal: boolean, preserve: number): (string | number)[] {
  const std = terminal ? ["ignore", "ignore", "ignore"] : ["inherit", "inherit", "inherit"];
  return [...std, ...Array.from({ length: preserve }, (_, i) => 3 + i), "pipe"];
}
