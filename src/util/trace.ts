// MINID_TRACE=1 prints wall-clock milestones of the start path to stderr (for benchmarks).
// writeSync, not process.stderr: creating that stream costs ~15 ms and would skew the trace.
import { writeSync } from "node:fs";

const on = process.env.MINID_TRACE === "1";
export function trace(label: string): void {
  if (on) writeSync(2, `trace ${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} ${label}\n`);
}
