// `start ID`: open the other end of exec.fifo, which releases the waiting init into execve,
// then run the poststart hooks (failures are warnings), as runc start.
import { openSync, readSync, closeSync, unlinkSync } from "node:fs";
import type { Globals, Logger } from "./flags.ts";
import { parseFlags } from "./flags.ts";
import { RuntimeError } from "./errors.ts";
import { Store, processAlive, stateJson, type Record } from "./store.ts";
import { runHooksWarn } from "./hooks.ts";
import { constants } from "node:fs";

export default function start(g: Globals, log: Logger, argv: string[]): number {
  const { args } = parseFlags(argv, {}, "start");
  if (args.length !== 1) throw new RuntimeError(`"start" requires exactly 1 argument(s)`);
  const store = new Store(g.root);
  const r = store.get(args[0]!);
  startContainer(store, r, log);
  return 0;
}

export function startContainer(store: Store, r: Record, log: Logger): void {
  const status = store.status(r);
  if (status === "stopped") throw new RuntimeError("cannot start a container that has stopped");
  if (status === "running" || status === "paused") throw new RuntimeError("cannot start an already running container");
  if (status === "creating") throw new RuntimeError("cannot start a container that is still being created");
  const fifo = store.fifo(r.id);
  let fd: number;
  try {
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    throw new RuntimeError("cannot start an already running container");
  }
  try {
    // The byte releases init; the EOF after it (its end closes on execve) says the command runs.
    const buf = Buffer.alloc(16);
    let got = false;
    for (let i = 0; ; i++) {
      let n = -1;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e: any) {
        if (e?.code !== "EAGAIN") throw e;
      }
      if (n > 0) got = true;
      else if (n === 0 && got) break;
      if (!processAlive(r.pid, r.pidStart)) {
        // A short command may have run and ended already: its byte is still in the fifo.
        try {
          if (!got && readSync(fd, buf, 0, buf.length, null) > 0) got = true;
        } catch {}
        if (!got) throw new RuntimeError("container init exited before start");
        break;
      }
      if (n <= 0) Bun.sleepSync(i < 100 ? 0.2 : 2);
    }
  } finally {
    closeSync(fd);
  }
  try {
    unlinkSync(fifo);
  } catch {}
  const config = store.config(r.id);
  runHooksWarn(config?.hooks?.poststart, stateJson(r, "running"), (m) => log.warn(`poststart hook failed: ${m}`));
}
