// Spawning a container's init (suspended until it is handed its spec on fd 4), kept in a
// module of its own with the fewest imports: the watcher calls it before loading the rest of
// its code, so init's own start-up overlaps the watcher's.
import { selfCommand, SHORT_LIVED_ENV } from "./self.ts";
import { inNewPidNamespace, inPidNamespaceOf } from "../linux/pidns.ts";

function inPidMode<T>(pid: "host" | string | undefined, spawn: () => T): T {
  if (pid === "host") return spawn();
  return pid ? inPidNamespaceOf(pid, spawn) : inNewPidNamespace(spawn);
}
import { sealSelfExecutable } from "../linux/sealed-exe.ts";
import { trace } from "../util/trace.ts";

/** Must equal INIT_ENV in init.ts (not imported: the watcher does not load init's code). */
export const INIT_SPEC_ENV = "MINID_INIT_SPEC";
/**
 * INIT_SPEC_ENV value telling init to read its spec from fd 4 (see init.ts): the watcher
 * writes "SPEC_PATH\nNETNS_PATH\n" (the second line empty without a prepared namespace) as
 * soon as it knows the container, then INIT_GO once the container may run. Init builds the
 * container meanwhile and waits for INIT_GO before it takes on the container's identity and
 * execs; EOF without it (the watcher gave up, or died) and the command never runs.
 */
export const INIT_SPEC_FROM_FD = "fd:4";
export const INIT_GO = "g";

/**
 * What init writes on its status fd right before execve (see init.ts). Then EOF (the fd is
 * CLOEXEC) means the command runs; a JSON status after it, that the exec failed; EOF
 * without it, that init died before it got there.
 */
export const INIT_EXEC_MARK = "x";

/** How init's stdio is set up: decided when it is spawned. */
export interface InitMode {
  tty: boolean;
  interactive: boolean;
  cols?: number;
  rows?: number;
}

/** Where a terminal's output and close go; set once the watcher is ready, buffered before. */
export interface TerminalSink {
  data(d: Uint8Array): void;
  exit(): void;
}

export interface LaunchedInit {
  mode: InitMode;
  proc: ReturnType<typeof Bun.spawn>;
  terminal?: Bun.Terminal;
  specFd: number;
  /** Route the terminal's output (tty mode); what arrived before is replayed. */
  attachTerminal(sink: TerminalSink): void;
}

/**
 * `pid`: --pid host (no PID namespace of its own: init is a host process) or the namespace file
 * of the container named by --pid container:NAME; default a new one, where init is PID 1.
 */
export function launchInit(mode: InitMode, pid?: "host" | string): LaunchedInit {
  const env: Record<string, string> = {
    [INIT_SPEC_ENV]: INIT_SPEC_FROM_FD,
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    ...SHORT_LIVED_ENV,
  };
  if (process.env.MINID_TRACE) env.MINID_TRACE = process.env.MINID_TRACE;
  const argv = selfCommand("_init");
  sealSelfExecutable();
  let sink: TerminalSink | undefined;
  const early: Uint8Array[] = [];
  let closedEarly = false;
  let proc: ReturnType<typeof Bun.spawn>;
  // init becomes PID 1 of a new PID namespace (see linux/pidns.ts for why it is scoped; the
  // options are built first so that the window holds nothing but the spawn).
  if (mode.tty) {
    // Inline terminal options (not a Bun.Terminal object): only then does Bun make the
    // terminal the child's controlling terminal (setsid + TIOCSCTTY), which job control needs.
    const options = {
      env,
      terminal: {
        cols: mode.cols || 80,
        rows: mode.rows || 24,
        data: (_t: unknown, d: Uint8Array) => (sink ? sink.data(d) : early.push(d.slice())),
        exit: () => (sink ? sink.exit() : (closedEarly = true)),
      },
      stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"],
    } as any;
    proc = inPidMode(pid, () => Bun.spawn(argv, options));
  } else {
    const options = {
      env,
      stdio: [mode.interactive ? "pipe" : "ignore", "pipe", "pipe", "pipe", "pipe"],
      detached: true,
    } as any;
    proc = inPidMode(pid, () => Bun.spawn(argv, options));
  }
  trace("init launched");
  return {
    mode,
    proc,
    terminal: proc.terminal,
    specFd: proc.stdio[4] as unknown as number,
    attachTerminal(s: TerminalSink) {
      sink = s;
      for (const d of early.splice(0)) s.data(d);
      if (closedEarly) s.exit();
    },
  };
}
