// `ps [--format table|json] ID [ps options]`: the container's processes. json is the list of
// host PIDs (runc's format); table is ps(1)'s output (-ef unless options are given) cut to them.
import type { Globals, Logger } from "./flags.ts";
import { parseFlags, str, writeOut } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store } from "./store.ts";
import { cgroupPids } from "./cgroups.ts";

export default function ps(g: Globals, _log: Logger, argv: string[]): number {
  const { flags, args } = parseFlags(argv, { value: ["format"], alias: { f: "format" } }, "ps");
  if (args.length < 1) throw new RuntimeError(`"ps" requires a minimum of 1 argument(s)`);
  const format = str(flags, "format") ?? "table";
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  if (store.status(r) === "stopped") throw new RuntimeError("container not running");
  const pids = r.cgroup ? cgroupPids(r.cgroup) : [r.pid];
  if (format === "json") {
    writeOut(JSON.stringify(pids) + "\n");
    return 0;
  }
  if (format !== "table") throw new RuntimeError(`invalid format option`);
  const opts = args.slice(1).length ? args.slice(1) : ["-ef"];
  const out = Bun.spawnSync(["ps", ...opts], { stdout: "pipe", stderr: "pipe" });
  if (out.exitCode !== 0) throw new RuntimeError(`ps: ${out.stderr.toString().trim()}`);
  const lines = out.stdout.toString().split("\n");
  const header = lines[0]!;
  const col = header.trim().split(/\s+/).indexOf("PID");
  if (col < 0) throw new RuntimeError("couldn't find PID field in ps output");
  const set = new Set(pids);
  writeOut(header + "\n");
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f.length > col && set.has(Number(f[col]))) writeOut(l + "\n");
  }
  return 0;
}
