// `minid logs`: the container's json-file log replayed to our stdout and stderr, optionally
// following it until the container (and its watcher, which writes the last lines) is gone.
import type { Engine } from "../engine.ts";
import type { ContainerState } from "./state.ts";
import { LogReader, logPath, rotatedLogs, type LogEntry } from "./logs.ts";
import { containerProc, isAlive } from "./proc.ts";
import { watcherRunning } from "./locks.ts";
import { writeAll } from "./attach.ts";

export interface LogsOptions {
  follow: boolean;
  tail: number;
  timestamps: boolean;
  since?: number;
  until?: number;
}

export async function streamLogs(engine: Engine, st: ContainerState, o: LogsOptions): Promise<void> {
  if (st.runOptions?.logDriver === "none") {
    const { UserError } = await import("../util/errors.ts");
    throw new UserError(`configured logging driver does not support reading`);
  }
  const path = logPath(engine.containers.containerDir(st.id), st.id);
  const reader = new LogReader(path);
  const emit = (entries: LogEntry[]) => {
    const out: Record<string, string[]> = { stdout: [], stderr: [] };
    let last = "";
    const flush = () => {
      if (!last) return;
      writeAll(last === "stderr" ? 2 : 1, Buffer.from(out[last]!.join("")));
      out[last] = [];
    };
    for (const e of entries) {
      if (o.since !== undefined || o.until !== undefined) {
        const t = Date.parse(e.time);
        if (o.since !== undefined && t < o.since) continue;
        if (o.until !== undefined && t > o.until) continue;
      }
      const stream = e.stream === "stderr" ? "stderr" : "stdout";
      if (stream !== last) flush();
      last = stream;
      out[stream]!.push(o.timestamps ? `${e.time} ${e.log}` : e.log);
    }
    flush();
  };
  // --log-opt max-file: the rotated files first, oldest first.
  const older: LogEntry[] = [];
  for (const f of rotatedLogs(path)) {
    const r = new LogReader(f);
    older.push(...r.read());
    r.close();
  }
  let first = [...older, ...reader.read()];
  if (o.tail !== Infinity) first = o.tail > 0 ? first.slice(-o.tail) : [];
  emit(first);
  if (!o.follow) return reader.close();
  const gone = () => !isAlive(containerProc(engine.containers.load(st.id) ?? st)) && !watcherRunning(engine.containers, st.id);
  for (;;) {
    const done = gone();
    emit(reader.read());
    if (done) break;
    await Bun.sleep(50);
  }
  reader.close();
}
