// Human output goes to stderr through consola (stdout carries data only). One line per
// message, prefixed like the Docker CLI's own errors, so scripts can grep them.
// consola/core: our own reporter needs none of the fancy one's terminal code, whose imports
// cost ~15 ms at every start of the compiled binary.
import { createConsola, type LogObject } from "consola/core";

const LEVELS: Record<string, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export const log = createConsola({
  level: 3,
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

export function setLogLevel(name: string): void {
  const l = LEVELS[name];
  if (l === undefined) throw new Error(`unknown log level "${name}" (use debug, info, warn, error)`);
  log.level = l;
}
