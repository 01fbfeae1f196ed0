import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { out } from "../cli/output.ts";
import { argsOf, str } from "../cli/argv.ts";
import { requireRoot } from "../engine.ts";
import { FlagError, UserError, signalNumber } from "../util/errors.ts";
import { eachContainer, stopContainer } from "../container/control.ts";

export function parseTimeout(v: unknown): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new FlagError(`invalid argument "${s}" for "-t, --time" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
  return Number(s);
}

export function parseSignal(v: unknown, flag: string): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const n = signalNumber(s);
  if (n === undefined) throw new UserError(`invalid signal: ${s} (flag ${flag})`);
  return n;
}

/** Shared with restart, which stops first. */
export const STOP_FLAGS = {
  // Docker 28 calls it --timeout and keeps --time as the old spelling.
  time: { type: "string", alias: ["t", "timeout"] as string[], description: "Seconds to wait before killing the container (default 10)" },
  signal: { type: "string", alias: "s", description: "Signal to send to the container (default SIGTERM or the image's StopSignal)" },
} as const;

export default defineCommand({
  meta: { name: "stop", description: "Stop one or more running containers (minid stop [OPTIONS] CONTAINER [CONTAINER...])" },
  args: STOP_FLAGS,
  async run({ args }) {
    requireRoot();
    const a = argsOf(args);
    const timeout = parseTimeout(a.time);
    const signal = parseSignal(a.signal, "--signal");
    const engine = getEngine();
    return eachContainer(engine, a.positionals, "stop", async (st, ref) => {
      await stopContainer(engine, st, timeout, signal);
      out(`${ref}\n`);
    });
  },
});
