// Signal state a command must not inherit from Bun. Ignored dispositions and the calling
// thread's signal mask survive execve(2); Bun ignores SIGPIPE and SIGXFSZ, so without this a
// container's `yes | head -1` never ends and a trap on PIPE never fires. Docker's runc hands
// the command a clean slate (SigIgn and SigBlk 0 in /proc/1/status); so does this.
import { readFileSync } from "node:fs";
import { rawSyscall, SYS_rt_sigaction, SYS_rt_sigprocmask } from "./libc.ts";
import { ptr } from "bun:ffi";

const SIG_SETMASK = 2;

/** Signal numbers set in a /proc/PID/status mask line such as `SigIgn:\t0000000001001000`. */
export function signalsInMask(status: string, key: "SigIgn" | "SigBlk" | "SigCgt"): number[] {
  const m = new RegExp(`^${key}:\\s*([0-9a-f]+)$`, "m").exec(status);
  const mask = m ? BigInt("0x" + m[1]) : 0n;
  const out: number[] = [];
  for (let s = 1; s <= 64; s++) if (mask & (1n << BigInt(s - 1))) out.push(s);
  return out;
}

/**
 * Reset every ignored signal to its default action and unblock every signal on the calling
 * thread: call on the thread that execs, right before execve (handlers reset themselves there;
 * only "ignore" and the mask would carry over).
 */
export function resetSignalsForExec(): void {
  const sigDefault = new BigUint64Array(4); // struct kernel_sigaction: handler SIG_DFL, no flags, empty mask
  const ignored = signalsInMask(readFileSync("/proc/thread-self/status", "utf8"), "SigIgn");
  for (const s of ignored) rawSyscall(SYS_rt_sigaction, s, ptr(sigDefault), 0, 8, 0);
  const empty = new BigUint64Array(1);
  rawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, ptr(empty), 0, 8, 0);
}
