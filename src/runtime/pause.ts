// `pause ID`: freeze every process of the container (freezer on v1, cgroup.freeze on v2).
import type { Globals, Logger } from "./flags.ts";
import { parseFlags } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store } from "./store.ts";
import { freeze } from "./cgroups.ts";

export function setFrozen(g: Globals, argv: string[], on: boolean): number {
  const cmd = on ? "pause" : "resume";
  const { args } = parseFlags(argv, {}, cmd);
  if (args.length !== 1) throw new RuntimeError(`"${cmd}" requires exactly 1 argument(s)`);
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  const status = store.status(r);
  if (on && status !== "running") throw new RuntimeError(status === "paused" ? "container already paused" : "container not running");
  if (!on && status !== "paused") throw new RuntimeError("container not paused");
  if (!r.cgroup) throw new RuntimeError("container has no cgroup");
  freeze(r.cgroup, on);
  return 0;
}

export default function pause(g: Globals, _log: Logger, argv: string[]): number {
  return setFrozen(g, argv, true);
}
