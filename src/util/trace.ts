// MINID_TRACE=1 prints wall-clock milestones of the start path to stderr (for benchmarks).
// writeSync, not process.stderr: creating that stream costs ~15 ms and would skew the trace.
// node:fs only when tracing: importing this module must cost nothing otherwise.
const on = process.env.MINID_TRACE === "1";
export function trace(label: string): void {
  if (on) (require("node:fs") as typeof import("node:fs")).writeSync(2, `trace ${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} ${label}\n`);
}
