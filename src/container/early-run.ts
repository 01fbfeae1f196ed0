// `run` starts its watcher before the CLI has loaded its own code (cli.ts calls this first
// thing), so the watcher's start-up and that of the init it launches at once overlap with
// the CLI's module loading and argument parsing instead of following them: ~5 ms of a run.
// The terminal mode init is spawned with is guessed from argv here; runContainer takes this
// watcher and tells it the real mode with the request, and a watcher whose guess was wrong
// replaces its early init (watcher-main.ts), so a bad guess costs time, never correctness.
// Any exit of the CLI before it hands the watcher a container (a bad flag, no such image)
// closes the watcher's fd 3, and it exits with its init.
import type { Watcher } from "./watcher.ts";

let early: Watcher | undefined;

/** Global flags (cli/main.ts) that take a value, so the word after them is not the command. */
const GLOBAL_VALUE_FLAGS = new Set([
  "--root", "--storage-driver", "-s", "--insecure-registry", "--registry-connect-timeout",
  "--registry-idle-timeout", "--log-level", "-l",
]);

/** run's boolean flags, so the word after them is not taken for a flag's value. */
const RUN_BOOLEAN_FLAGS = new Set([
  "--rm", "--detach", "--tty", "--interactive", "--read-only", "--privileged", "--init",
  "--sig-proxy", "--no-healthcheck", "--oom-kill-disable", "--publish-all", "-P",
]);

/**
 * The terminal mode of `minid [global flags] run [flags] IMAGE ...`, or undefined for any other
 * command (or `run --help`). A guess: words after the image are the container's command and
 * are not looked at, but where the image starts is only estimated.
 */
export function guessRunMode(argv: string[]): { tty: boolean; interactive: boolean } | undefined {
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) break;
    if (GLOBAL_VALUE_FLAGS.has(a)) i++;
  }
  if (argv[i] !== "run") return undefined;
  const mode = { tty: false, interactive: false };
  for (i++; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help") return undefined;
    if (a === "--" || !a.startsWith("-")) break; // the image
    if (/^-[dit]+$/.test(a)) {
      if (a.includes("t")) mode.tty = true;
      if (a.includes("i")) mode.interactive = true;
      continue;
    }
    const [name, value] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (name === "--tty" || name === "--interactive") {
      mode[name === "--tty" ? "tty" : "interactive"] = value === undefined || value === "true";
      continue;
    }
    // Any other flag without an inline value is taken to consume the next word.
    if (value === undefined && !RUN_BOOLEAN_FLAGS.has(name)) i++;
  }
  return mode;
}

/** Called by cli.ts before anything else is loaded: start the watcher if this is a `run`. */
export async function prestartForRun(argv: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return; // run refuses anyway: spawn nothing
  const mode = guessRunMode(argv);
  if (!mode) return;
  const { prestartWatcher } = await import("./watcher.ts");
  early = prestartWatcher(mode);
}

/** The watcher prestartForRun started, once (runContainer's to use or cancel). */
export function takeEarlyWatcher(): Watcher | undefined {
  const w = early;
  early = undefined;
  return w;
}
