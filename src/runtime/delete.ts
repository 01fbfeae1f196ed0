// `delete [--force] ID`: a stopped container's cgroup and state go, then the poststop hooks
// run (failures are warnings). A created or running one needs --force, which kills it first
// (the runtime-spec: deleting a container that is not stopped MUST be an error).
import type { Globals, Logger } from "./flags.ts";
import { parseFlags } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store, processAlive, stateJson, type Record } from "./store.ts";
import { cgroupPids, removeCgroups, freeze } from "./cgroups.ts";
import { runHooksWarn } from "./hooks.ts";
import { kill } from "../linux/libc.ts";

export default function del(g: Globals, log: Logger, argv: string[]): number {
  const { flags, args } = parseFlags(argv, { bool: ["force"], alias: { f: "force" } }, "delete");
  if (args.length !== 1) throw new RuntimeError(`"delete" requires exactly 1 argument(s)`);
  const store = new Store(g.root);
  const r = store.read(args[0]!);
  if (!r) {
    if (flags.get("force")) return 0; // runc: --force on a missing container is not an error
    store.get(args[0]!);
  }
  deleteContainer(store, r!, flags.get("force") === true, log);
  return 0;
}

export function deleteContainer(store: Store, r: Record, force: boolean, log: Logger): void {
  const status = store.status(r);
  if (status !== "stopped") {
    if (!force) throw new RuntimeError(`cannot delete container ${r.id} that is not stopped: ${status}`);
    killAll(r);
  }
  // With a shared PID namespace, processes may outlive init: they go with the container.
  if (r.cgroup) {
    const left = cgroupPids(r.cgroup);
    if (left.length) killAll(r);
    removeCgroups(r.cgroup);
  }
  const config = store.config(r.id);
  store.remove(r.id);
  runHooksWarn(config?.hooks?.poststop, stateJson(r, "stopped"), (m) => log.warn(`poststop hook failed: ${m}`));
}

function killAll(r: Record): void {
  if (r.cgroup) {
    try {
      freeze(r.cgroup, false);
    } catch {}
  }
  if (processAlive(r.pid, r.pidStart)) kill(r.pid, 9);
  for (let i = 0; i < 500; i++) {
    const pids = r.cgroup ? cgroupPids(r.cgroup) : [];
    for (const p of pids) kill(p, 9);
    if (!pids.length && !processAlive(r.pid, r.pidStart)) return;
    Bun.sleepSync(5);
  }
}
