// MINID_TRACE=1 prints wall-clock milestones of the start path to stderr (for benchmarks).
const on = process.env.MINID_TRACE === "1";
export function trace(label: string): void {
  if (on) process.stderr.write(`trace ${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} ${label}\n`);
}
