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
