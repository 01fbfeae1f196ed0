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
    super(message);
    this.name = "UserError";
  }
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
