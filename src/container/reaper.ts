// `--init`: the container's PID 1 when the user asks for one (Docker's docker-init, tini). It
// is minid's own init, which, once the container is built and confined, stays as PID 1 instead
// of exec'ing the command. (A fresh exec of this binary inside the container cannot work: it
// is linked against the host's glibc, and a busybox root has no /lib64/ld-linux-x86-64.so.2 —
// execveat of it fails with ENOENT, measured. Docker bind-mounts a static tini instead.) It
//   - starts the command as its child (posix_spawn: every signal at its default, none
//     blocked; its own process group, the terminal's foreground one with -t),
//   - forwards the signals PID 1 receives (stop's SIGTERM, kill -s …) to it: a command that is
//     not PID 1 gets the kernel's default actions, so SIGTERM ends a shell that ignores it as PID 1,
//   - reaps every orphan the kernel hands to PID 1 (SIGCHLD, and a slow sweep as a safety net),
//   - exits with the command's status (128+N when a signal N ended it); the kernel then ends
//     whatever is left in the PID namespace.
import { isatty, kill, prctl, reapAny, setForeground, spawnChild, PR_SET_DUMPABLE } from "../linux/libc.ts";

/** /proc/PID/comm of a container's init once it serves as the reaper (proc.ts tells it from a starting init). */
export const REAPER_NAME = "minid-init";

const FORWARDED = [
  "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGALRM", "SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU",
] as const;
const NUMBERS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGALRM: 14, SIGTERM: 15, SIGCONT: 18, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGWINCH: 28,
};

/**
 * Be the reaper of `cmd` (its file, then its argv): start it and serve from the event loop
 * (returns at once; the process exits with the command).
 */
export function reap(cmd: (Buffer | Uint8Array)[], env: (Buffer | Uint8Array)[]): void {
  // Still non-dumpable (init made itself so): /proc/1/exe and /proc/1/fd stay closed to the container.
  prctl(PR_SET_DUMPABLE, 0);
  if (cmd.length < 2) {
    process.stderr.write("minid-init: no command\n");
    process.exit(125);
  }
  const tty = isatty(0);
  let child: number;
  try {
    child = spawnChild(cmd[0]!, cmd.slice(1), env, true);
  } catch (e) {
    process.stderr.write(`minid-init: cannot start ${Buffer.from(cmd[0]!).toString()}: ${(e as Error).message}\n`);
    process.exit(/ENOENT/.test(String(e)) ? 127 : 126);
  }
  if (tty) setForeground(0, child);
  for (const sig of FORWARDED) process.on(sig, () => void kill(child, NUMBERS[sig]!));
  const sweep = () => {
    for (let r = reapAny(); r; r = reapAny()) {
      if (r[0] !== child) continue;
      const status = r[1];
      const sig = status & 0x7f;
      process.exit(sig === 0 ? (status >> 8) & 0xff : 128 + sig);
    }
  };
  process.on("SIGCHLD", sweep);
  // SIGCHLDs coalesce and one may come before the handler: look now, and now and then.
  setInterval(sweep, 5000);
  sweep();
  // What built the container is garbage now, and the text that ran it is never needed again
  // (see trim.ts): a reaper that stays for the container's life keeps only what it uses.
  setTimeout(() => {
    Bun.gc(true);
    setTimeout(() => (require("./trim.ts") as typeof import("./trim.ts")).trimResidentText(), 200);
  }, 300);
}
