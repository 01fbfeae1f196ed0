// What every operation of the runtime CLI shares: the global options, the logger (runc's
// logrus lines, text or JSON, to stderr and --log) and urfave/cli's flag rules.
import { appendFileSync, writeSync } from "node:fs";

/** Output by writeSync: creating process.stdout costs ~15 ms, a runtime's whole budget. */
export function writeOut(s: string): void {
  const b = Buffer.from(s);
  for (let off = 0; off < b.length; ) off += writeSync(1, b, off);
}
export function writeErr(s: string): void {
  try {
    const b = Buffer.from(s);
    for (let off = 0; off < b.length; ) off += writeSync(2, b, off);
  } catch {}
}
import { RuntimeError } from "./errors.ts";

export interface Globals {
  root: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
  systemdCgroup: boolean;
}

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export type Flags = Map<string, string | boolean | string[]>;

export interface Parsed {
  flags: Flags;
  args: string[];
}

interface FlagSpec {
  bool?: string[];
  value?: string[];
  multi?: string[];
  alias?: Record<string, string>;
}

/** urfave/cli's rules as runc uses them: -f and --f alike, --f=v or --f v, flags stop at the first argument. */
export function parseFlags(argv: string[], spec: FlagSpec, cmd: string): Parsed {
  const flags: Flags = new Map();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    let name = a.replace(/^--?/, "");
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = spec.alias?.[name] ?? name;
    if (spec.bool?.includes(name)) {
      flags.set(name, value === undefined ? true : value !== "false");
    } else if (spec.value?.includes(name) || spec.multi?.includes(name)) {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new RuntimeError(`flag needs an argument: -${name}`);
        value = argv[++i]!;
      }
      if (spec.multi?.includes(name)) flags.set(name, [...((flags.get(name) as string[]) ?? []), value]);
      else flags.set(name, value);
    } else if (name === "help" || name === "h") {
      flags.set("help", true);
    } else {
      throw new RuntimeError(`flag provided but not defined: -${name} (see 'minid-runtime ${cmd} --help')`);
    }
  }
  return { flags, args: argv.slice(i) };
}

export function str(f: Flags, name: string): string | undefined {
  const v = f.get(name);
  return typeof v === "string" ? v : undefined;
}

export function makeLogger(g: Globals): Logger {
  const line = (level: string, msg: string) => {
    const time = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    return g.logFormat === "json" ? JSON.stringify({ level, msg, time }) + "\n" : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  };
  const toLog = (level: string, msg: string) => {
    if (!g.log) return;
    try {
      appendFileSync(g.log, line(level, msg));
    } catch {}
  };
  return {
    error(msg) {
      toLog("error", msg);
      writeErr(g.logFormat === "json" && !g.log ? line("error", msg) : `${line("error", msg)}`);
    },
    warn(msg) {
      toLog("warning", msg);
      writeErr(line("warning", msg));
    },
    debug(msg) {
      if (!g.debug) return;
      toLog("debug", msg);
      writeErr(line("debug", msg));
    },
  };
}

