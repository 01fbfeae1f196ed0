// Ctrl-C (SIGINT) or SIGTERM during a registry transfer: remove what the transfer has staged
// in the store, then exit the way Docker's CLI does (130 or 143). Without this, Bun's default
// action kills the process and leaves the scratch files of a half-downloaded layer behind
// until a later sweep.
import { writeSync } from "node:fs";

const cleanups = new Set<() => void>();
const SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

function onSignal(sig: keyof typeof SIGNALS): void {
  for (const fn of [...cleanups]) {
    try {
      fn();
    } catch {
      /* the next cleanup still runs; sweep() catches what is left */
    }
  }
  // Progress bars may have left the cursor mid-line.
  try {
    writeSync(2, "\n");
  } catch {}
  process.exit(SIGNALS[sig]);
}

const listeners = { SIGINT: () => onSignal("SIGINT"), SIGTERM: () => onSignal("SIGTERM") };

/**
 * Run `cleanup` (synchronously) if the process is interrupted before the returned function is
 * called. Handlers are installed only while some transfer is running.
 */
export function onInterrupt(cleanup: () => void): () => void {
  if (cleanups.size === 0) for (const s of Object.keys(listeners) as (keyof typeof listeners)[]) process.on(s, listeners[s]);
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
    if (cleanups.size === 0) for (const s of Object.keys(listeners) as (keyof typeof listeners)[]) process.off(s, listeners[s]);
  };
}
