import { defineCommand } from "citty";
import { getEngine } from "../cli/globals.ts";
import { argsOf, str } from "../cli/argv.ts";
import { UserError } from "../util/errors.ts";

export default defineCommand({
  meta: { name: "logs", description: "Fetch the logs of a container (minid logs [OPTIONS] CONTAINER)" },
  args: {
    follow: { type: "boolean", alias: "f", description: "Follow log output until the container stops" },
    tail: { type: "string", alias: "n", description: 'Number of lines to show from the end of the logs (default "all")' },
    timestamps: { type: "boolean", alias: "t", description: "Show timestamps" },
    since: { type: "string", description: "Show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)" },
    until: { type: "string", description: "Show logs before a timestamp or relative time" },
  },
  async run({ args }) {
    const a = argsOf(args);
    if (a.positionals.length !== 1) throw new UserError(`"minid logs" requires exactly 1 argument.\nSee 'minid logs --help'.`);
    const tailArg = str(a.tail) ?? "all";
    let tail = Infinity;
    if (tailArg !== "all") {
      if (!/^-?\d+$/.test(tailArg)) throw new UserError(`invalid argument "${tailArg}" for "-n, --tail" flag: expected a number or "all"`);
      tail = Number(tailArg) < 0 ? Infinity : Number(tailArg);
    }
    const now = Date.now();
    const since = parseTime(str(a.since), "--since", now);
    const until = parseTime(str(a.until), "--until", now);
    const engine = getEngine();
    const st = engine.containers.find(a.positionals[0]!);
    const { streamLogs } = await import("../container/logs-cli.ts");
    await streamLogs(engine, st, { follow: Boolean(a.follow), tail, timestamps: Boolean(a.timestamps), since, until });
    return 0;
  },
});

/** RFC 3339 (or a date), Unix seconds, or a Go-style relative duration ("10m", "1h30m"). */
function parseTime(v: string | undefined, flag: string, now: number): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(v);
  if (dur) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!;
    return now - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UserError(`invalid value for ${flag}: "${v}" is not a timestamp or duration`);
  return t;
}
