// Human output goes to stderr through consola (stdout carries data only). One line per
// message, prefixed like the Docker CLI's own errors, so scripts can grep them.
// consola/core: our own reporter needs none of the fancy one's terminal code, whose imports
// cost ~15 ms at every start of the compiled binary.
// Created on first use: most commands never log, and consola's setup is ~0.5 ms of each start.
import type { ConsolaInstance, LogObject } from "consola/core";

const LEVELS: Record<string, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

let level = 3;
let instance: ConsolaInstance | undefined;

function consola(): ConsolaInstance {
  instance ??= (require("consola/core") as typeof import("consola/core")).createConsola({
    level,
    reporters: [
      {
        log(o: LogObject) {
          const msg = o.args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
          const prefix = o.type === "error" || o.type === "fatal" ? "minid: " : o.type === "warn" ? "minid: warning: " : "";
          process.stderr.write(`${prefix}${msg}\n`);
        },
      },
    ],
  });
  return instance;
}

export const log = {
  error: (message: unknown, ...args: unknown[]) => consola().error(message, ...args),
  warn: (message: unknown, ...args: unknown[]) => consola().warn(message, ...args),
  info: (message: unknown, ...args: unknown[]) => consola().info(message, ...args),
  debug: (message: unknown, ...args: unknown[]) => consola().debug(message, ...args),
  get level(): number {
    return level;
  },
  set level(l: number) {
    level = l;
    if (instance) instance.level = l;
  },
};

export function setLogLevel(name: string): void {
  const l = LEVELS[name];
  if (l === undefined) throw new Error(`unknown log level "${name}" (use debug, info, warn, error)`);
  log.level = l;
}
