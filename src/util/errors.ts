// Exit codes follow the Docker CLI so scripts can tell an engine failure from the
// container's own status.
export const EXIT_ENGINE = 125;
export const EXIT_CANNOT_EXEC = 126;
export const EXIT_NOT_FOUND = 127;

/** An error the user caused or can fix: printed as one line, mapped to an exit code. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ENGINE,
  ) {
    super(oneLine(message));
    this.name = "UserError";
  }
}

/**
 * A flag's value that does not parse (pflag's "invalid argument ... for ... flag"): 125 on every
 * command, as the Docker CLI's flag errors, even where the command's own failures exit 1.
 */
export class FlagError extends UserError {
  constructor(message: string) {
    super(message, EXIT_ENGINE);
    this.name = "FlagError";
  }
}

// Characters that would break a one-line message or make it lie on a terminal: C0 and C1
// controls, DEL, line/paragraph separators, bidi overrides and isolates, lone surrogates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b" };

function escapeChar(c: string): string {
  const n = c.charCodeAt(0);
  return NAMED[c] ?? (n < 0x100 ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`);
}

/** `s` with every unsafe character spelled as an escape (\n, \x00, \u202e); nothing else changes. */
export function escapeControl(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/**
 * User input as error messages quote it: in double quotes, with quotes, backslashes and unsafe
 * characters escaped (as Go's %q, which Docker's messages use), so a name holding a newline or
 * a terminal escape stays one visible line.
 */
export function quote(s: string): string {
  return `"${s.replace(/["\\]/g, "\\$&").replace(UNSAFE, escapeChar)}"`;
}

// The only line breaks a message may carry on purpose: the CLI's "See 'minid X --help'." hint.
const HINT = /\nSee 'minid [a-z -]*--help'\.$/;

/**
 * A message made safe to print as one line. Every place that quotes user input should use
 * quote(); this is the net under the ones that interpolate raw text.
 */
export function oneLine(message: string): string {
  const hint = HINT.exec(message);
  const body = hint ? message.slice(0, hint.index) : message;
  return escapeControl(body) + (hint ? hint[0] : "");
}

export function fail(message: string, exitCode = EXIT_ENGINE): never {
  throw new UserError(message, exitCode);
}

/** Exit status of a process the way a shell (and Docker) reports it. */
export function statusFromExit(code: number | null, signal: string | number | null): number {
  if (code !== null && code !== undefined) return code;
  if (signal === null || signal === undefined) return EXIT_ENGINE;
  const n = typeof signal === "number" ? signal : signalNumber(signal);
  return 128 + (n ?? 0);
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10,
  SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19,
  TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28,
  IO: 29, PWR: 30, SYS: 31,
};

/** "SIGTERM", "TERM", "term" or "15" → 15; undefined when unknown. */
export function signalNumber(sig: string | number): number | undefined {
  if (typeof sig === "number") return sig;
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    return n > 0 && n < 65 ? n : undefined;
  }
  const name = sig.toUpperCase().replace(/^SIG/, "");
  return SIGNALS[name];
}

export function signalName(n: number): string {
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return `SIG${k}`;
  return `SIG${n}`;
}

/**
 * Whoever reads our stdout went away (`minid images | head -1`). A Go CLI dies of SIGPIPE
 * there, silently; the shell reports 128+13. minid does the same, after its finally blocks
 * have cleaned up.
 */
export class StdoutClosed extends Error {
  constructor() {
    super("stdout closed");
  }
}
export const EXIT_SIGPIPE = 141;

/** Turn a failed write to fd 1 into StdoutClosed when it is the reader that went away. */
export function stdoutWriteError(fd: number, e: unknown): unknown {
  return fd === 1 && (e as NodeJS.ErrnoException)?.code === "EPIPE" ? new StdoutClosed() : e;
}
