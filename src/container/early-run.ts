// What cli.ts starts before the CLI has loaded its own code, for the two commands whose
// latency matters most. `exec`: the Worker that will enter the container (exec-enter.ts; a
// VM of its own, 3-10 ms to start here) boots while the CLI loads; execInContainer takes it.
// It only loads code until it is handed a request, so starting it early changes nothing else.
//
// `run` starts its watcher before the CLI has loaded its own code (cli.ts calls this first
// thing), so the watcher's start-up and that of the init it launches at once overlap with
// the CLI's module loading and argument parsing instead of following them: ~5 ms of a run.
// The terminal mode init is spawned with is guessed from argv here; runContainer takes this
// watcher and tells it the real mode with the request, and a watcher whose guess was wrong
// replaces its early init (watcher-main.ts), so a bad guess costs time, never correctness.
// Any exit of the CLI before it hands the watcher a container (a bad flag, no such image)
// closes the watcher's fd 3, and it exits with its init.
import type { Watcher } from "./watcher.ts";
import type { EnterReply } from "./exec-enter.ts";
import { EXIT_CANNOT_EXEC } from "../util/errors.ts";

let early: Watcher | undefined;

/** Global flags (cli/main.ts) that take a value, so the word after them is not the command. */
const GLOBAL_VALUE_FLAGS = new Set([
  "--root", "--storage-driver", "-s", "--insecure-registry", "--registry-connect-timeout",
  "--registry-idle-timeout", "--log-level", "-l", "--bridge-name", "--bridge-subnet",
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
  let i = commandIndex(argv);
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

/** Where the command word is, past the global flags. */
function commandIndex(argv: string[]): number {
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) break;
    if (GLOBAL_VALUE_FLAGS.has(a)) i++;
  }
  return i;
}

/** Whether argv is `minid [global flags] exec ...` (not `exec --help`). */
export function isExecCommand(argv: string[]): boolean {
  const i = commandIndex(argv);
  return argv[i] === "exec" && !argv.slice(i + 1).includes("--help");
}

/** Called by cli.ts before anything else is loaded: the watcher of a `run`, the Worker of an `exec`. */
export async function prestartForCommand(argv: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return; // both refuse anyway: start nothing
  if (isExecCommand(argv)) {
    earlyWorker = startEnterWorker();
    return;
  }
  const mode = guessRunMode(argv);
  if (!mode) return;
  const { prestartWatcher } = await import("./watcher.ts");
  early = prestartWatcher(mode, guessBridged(argv));
}

/**
 * Whether `run`'s container will be on a bridge network (no --network none|host|container:),
 * so its watcher prepares the namespace early (network/attach.ts). A guess, as the mode's: a
 * wrong one only costs the time it would have saved.
 */
export function guessBridged(argv: string[]): boolean {
  const i = commandIndex(argv);
  for (let j = i + 1; j < argv.length; j++) {
    const a = argv[j]!;
    if (a === "--") break;
    const m = /^--(?:network|net)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    const v = m[1] ?? argv[j + 1] ?? "";
    return v !== "none" && v !== "host" && !v.startsWith("container:");
  }
  return true;
}

// ---- exec's entering thread ----

export interface EnterWorker {
  worker: Worker;
  /** Its first message: ready (with a terminal), or why entering failed. */
  ready: Promise<EnterReply>;
}
let earlyWorker: EnterWorker | undefined;

/**
 * The Worker's entry: from source, the file beside this one; in the compiled binary, the
 * entry point build.ts adds, which Bun resolves against the binary's root (src/).
 */
function enterEntry(): string {
  return import.meta.url.startsWith("file:///$bunfs/") ? "./container/exec-enter.ts" : new URL("./exec-enter.ts", import.meta.url).href;
}

function startEnterWorker(): EnterWorker {
  const worker = new Worker(enterEntry());
  // The worker ends blocked for good (see forkexec.ts): never wait for it, never terminate it.
  const ready = new Promise<EnterReply>((resolve) => {
    worker.onmessage = (ev: MessageEvent<EnterReply>) => resolve(ev.data);
    worker.onerror = (ev: ErrorEvent) => resolve({ type: "error", message: `exec: ${ev.message}`, exitCode: EXIT_CANNOT_EXEC, user: false });
  });
  worker.unref();
  return { worker, ready };
}

/** exec's entering thread: the one cli.ts started, or a new one. */
export function takeEnterWorker(): EnterWorker {
  const w = earlyWorker ?? startEnterWorker();
  earlyWorker = undefined;
  return w;
}

/** The watcher prestartForCommand started, once (runContainer's to use or cancel). */
export function takeEarlyWatcher(): Watcher | undefined {
  const w = early;
  early = undefined;
  return w;
}
