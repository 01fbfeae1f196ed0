// A strict, Docker-compatible argv parser over citty argument definitions. citty's own parser
// accepts unknown flags silently, keeps only the last of repeated flags and does not stop at
// the image name; `run` and `exec` need all three to behave like the Docker CLI.
import type { ArgsDef } from "citty";
import { UserError } from "../util/errors.ts";
import { argBytes } from "../util/argbytes.ts";

/** citty's ArgDef plus `multiple` for repeatable flags such as `-e`. */
export type FlagDefs = ArgsDef;

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything from the first positional beyond `stopAfter` on, verbatim. */
  rest: string[];
}

interface FlagInfo {
  name: string;
  type: "boolean" | "string";
  multiple: boolean;
}

function index(defs: FlagDefs): Map<string, FlagInfo> {
  const m = new Map<string, FlagInfo>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const info: FlagInfo = {
      name,
      type: def.type === "boolean" ? "boolean" : "string",
      multiple: Boolean((def as { multiple?: boolean }).multiple),
    };
    m.set(name, info);
    const aliases = (def as { alias?: string | string[] }).alias;
    for (const a of Array.isArray(aliases) ? aliases : aliases ? [aliases] : []) m.set(a, info);
  }
  return m;
}

/**
 * Parse `argv` against `defs`. With `stopAfter = n`, parsing ends at the n-th positional and
 * the remaining words are returned untouched in `rest` (the container's command).
 */
export function parseArgv(argv: string[], defs: FlagDefs, command: string, stopAfter = Infinity): Parsed {
  const flags = index(defs);
  const out: Parsed = { flags: {}, positionals: [], rest: [] };
  const unknown = (f: string): never => {
    throw new UserError(`unknown flag: ${f}\nSee 'minid ${command} --help'.`);
  };
  // pflag names a shorthand with the word it came in: "unknown shorthand flag: 'x' in -ix".
  const unknownShort = (ch: string, word: string): never => {
    throw new UserError(`unknown shorthand flag: '${ch}' in ${word}\nSee 'minid ${command} --help'.`);
  };
  const set = (info: FlagInfo, value: string | boolean) => {
    if (info.multiple) {
      const prev = (out.flags[info.name] as string[] | undefined) ?? [];
      out.flags[info.name] = [...prev, String(value)];
    } else {
      out.flags[info.name] = value;
    }
  };
  const needValue = (flag: string, i: number): string => {
    // pflag: "flag needs an argument: --name", or "... 'h' in -h" for a shorthand.
    const shown = flag.startsWith("--") ? flag : `'${flag.slice(1)}' in ${flag}`;
    if (i >= argv.length) throw new UserError(`flag needs an argument: ${shown}\nSee 'minid ${command} --help'.`);
    return argv[i]!;
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a.startsWith("--") ) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const info = flags.get(name);
      if (!info) {
        if (name.startsWith("no-") && flags.get(name.slice(3))?.type === "boolean") {
          set(flags.get(name.slice(3))!, false);
          continue;
        }
        unknown(`--${name}`);
      }
      if (info!.type === "boolean") {
        set(info!, eq > 0 ? parseBool(a.slice(eq + 1), `--${name}`) : true);
      } else {
        set(info!, eq > 0 ? a.slice(eq + 1) : needValue(`--${name}`, ++i));
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      // Grouped short flags: -it, -dit, -e=K=V, -eK=V
      for (let j = 1; j < a.length; j++) {
        const ch = a[j]!;
        const info = flags.get(ch);
        if (!info) unknownShort(ch, a);
        if (info!.type === "boolean") {
          if (a[j + 1] === "=") {
            set(info!, parseBool(a.slice(j + 2), `-${ch}`));
            break;
          }
          set(info!, true);
          continue;
        }
        const tail = a.slice(j + 1);
        set(info!, tail ? tail.replace(/^=/, "") : needValue(`-${ch}`, ++i));
        break;
      }
      continue;
    }
    out.positionals.push(a);
    if (out.positionals.length >= stopAfter) {
      i++;
      break;
    }
  }
  const remaining = argv.slice(i);
  if (out.positionals.length >= stopAfter) out.rest = remaining;
  else out.positionals.push(...remaining);
  return out;
}

function parseBool(v: string, flag: string): boolean {
  if (["true", "1", "t", "T", "TRUE", "True"].includes(v)) return true;
  if (["false", "0", "f", "F", "FALSE", "False"].includes(v)) return false;
  throw new UserError(`invalid argument "${v}" for "${flag}" flag: parse error`);
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function list(v: unknown): string[] {
  return Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : [];
}

/** What a command's run() receives from main(): flags by name plus positionals and rest. */
export type CmdArgs = Record<string, unknown> & { positionals: string[]; rest: string[] };
export function argsOf(a: unknown): CmdArgs {
  return a as CmdArgs;
}

/**
 * The exact bytes of the last `rest.length` command-line words, for a command the CLI hands
 * on verbatim (`run IMAGE CMD...`, `exec CTR CMD...`). main() already decodes the command line
 * losslessly (util/argbytes.ts), so `rest` holds escapes for non-UTF-8 bytes; this turns each
 * word back into its bytes. A process started through execve(2) must get these Buffers as its
 * argv, never the strings (Bun.spawn and Buffer.from(string) write U+FFFD for the escapes).
 */
export function rawArgvBytes(rest: string[]): Buffer[] {
  return rest.map(argBytes);
}
