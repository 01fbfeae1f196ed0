// `run [--bundle DIR] [-d] [--pid-file F] [--console-socket S] ID`: create + start. In the
// foreground (the default) init is our child: signals we get are passed on, its exit status
// becomes ours (128+N when killed by signal N), and the container is deleted afterwards,
// as runc run does. -d returns once the container runs.
import type { Globals, Logger } from "./flags.ts";
import { createOptions, createContainer } from "./create.ts";
import { startContainer } from "./start.ts";
import { deleteContainer } from "./delete.ts";
import { kill } from "../linux/libc.ts";
import { constants } from "node:os";

const FORWARD = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

export default async function run(g: Globals, log: Logger, argv: string[]): Promise<number> {
  const { id, opts, flags } = createOptions(argv, "run");
  const detach = flags.get("detach") === true;
  opts.foreground = !detach;
  const c = await createContainer(g, log, id, opts);
  try {
    startContainer(c.store, c.record, log);
  } catch (e) {
    deleteContainer(c.store, c.record, true, log);
    throw e;
  }
  if (detach) {
    c.proc.unref();
    return 0;
  }
  const handlers = FORWARD.map((s) => {
    const h = () => kill(c.record.pid, (constants.signals as Record<string, number>)[s]!);
    process.on(s, h);
    return [s, h] as const;
  });
  await c.proc.exited;
  for (const [s, h] of handlers) process.off(s, h);
  const code = c.proc.exitCode;
  const sig = c.proc.signalCode;
  deleteContainer(c.store, c.record, true, log);
  if (sig) return 128 + ((constants.signals as Record<string, number>)[sig] ?? 0);
  return code ?? 0;
}
