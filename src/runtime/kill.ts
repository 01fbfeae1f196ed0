// `kill [--all] ID [SIGNAL]`: a signal by name (with or without SIG) or number to init, or
// with --all to every process in the container's cgroup. SIGTERM by default, as runc.
import { constants } from "node:os";
import type { Globals, Logger } from "./flags.ts";
import { parseFlags } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store } from "./store.ts";
import { cgroupPids } from "./cgroups.ts";
import { kill as sysKill } from "../linux/libc.ts";

export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new RuntimeError(`invalid signal: ${s}`);
    return n;
  }
  const name = s.toUpperCase().replace(/^SIG/, "");
  const rt = /^RTMIN(\+(\d+))?$/.exec(name) ?? /^RTMAX(-(\d+))?$/.exec(name);
  if (rt) return name.startsWith("RTMIN") ? 34 + Number(rt[2] ?? 0) : 64 - Number(rt[2] ?? 0);
  const n = (constants.signals as Record<string, number>)[`SIG${name}`];
  if (n === undefined) throw new RuntimeError(`unknown signal "${s}"`);
  return n;
}

export default function kill(g: Globals, _log: Logger, argv: string[]): number {
  const { flags, args } = parseFlags(argv, { bool: ["all"], alias: { a: "all" } }, "kill");
  if (args.length < 1 || args.length > 2) throw new RuntimeError(`"kill" requires a minimum of 1 and a maximum of 2 argument(s)`);
  const sig = parseSignal(args[1] ?? "SIGTERM");
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  const status = store.status(r);
  if (status === "stopped") throw new RuntimeError("container not running");
  if (flags.get("all") && r.cgroup) {
    const pids = cgroupPids(r.cgroup);
    for (const p of pids.length ? pids : [r.pid]) sysKill(p, sig);
    return 0;
  }
  if (!sysKill(r.pid, sig)) throw new RuntimeError("container not running");
  return 0;
}
