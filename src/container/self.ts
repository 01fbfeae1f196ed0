// How minid starts another copy of itself (for init and other internal entry points).
// Under `bun build --compile`, process.execPath is the minid binary and Bun.main is a virtual
// /$bunfs/ path; from source, execPath is bun and Bun.main the cli.ts script. Internal entry
// points are hidden subcommands recognised before anything else runs (see cli.ts), and each
// needs an environment marker, so a mistaken re-exec fails fast instead of recursing.

export function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
}

export function selfCommand(subcommand: string): string[] {
  return isCompiled() ? [process.execPath, subcommand] : [process.execPath, Bun.main, subcommand];
}

/**
 * The environment of minid's own processes that live for milliseconds (a container's init,
 * the runtime's init and exec process): JSC's optimising JITs would only compile on helper
 * threads, competing with them for the CPU (perf: ~5% of a run), and even the baseline JIT
 * costs more than it saves on code that runs once (bench/ab.ts: run --network none 4.5%
 * faster, 5.5% less CPU without it). The interpreter runs the bytecode build.ts compiled.
 */
export const SHORT_LIVED_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_useDFGJIT: "false",
  BUN_JSC_useFTLJIT: "false",
  BUN_JSC_useBaselineJIT: "false",
};
