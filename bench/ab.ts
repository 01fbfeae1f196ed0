// A/B(/C...): minid binaries timed alternately, round after round, so the load other work puts
// on the machine hits all alike; wall time and CPU time (perf stat task-clock, every process
// the run starts: CLI, watcher, init) medians. For deciding whether a change helps.
//   bun bench/ab.ts BIN_A BIN_B [BIN_C...] [--runs N] [-- minid args...]
//   (default args: run --rm busybox true)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { median } from "./lib.ts";

const args = process.argv.slice(2);
const dash = args.indexOf("--");
const head = dash >= 0 ? args.slice(0, dash) : args;
const ri = head.indexOf("--runs");
const runs = ri >= 0 ? Number(head[ri + 1]) : 40;
const bins = head.filter((_, i) => i !== ri && i !== ri + 1);
const cmd = dash >= 0 ? args.slice(dash + 1) : ["run", "--rm", "busybox", "true"];
if (bins.length < 2) throw new Error("usage: bench/ab.ts BIN_A BIN_B [...] [--runs N] [-- args]");
const perf = Bun.spawnSync(["perf", "--version"]).exitCode === 0;
const work = mkdtempSync(join(tmpdir(), "minid-ab-"));
const csv = join(work, "perf.csv");

function once(bin: string, root: string): { wall: number; cpu: number } {
  const argv = [bin, "--root", root, ...cmd];
  const full = perf ? ["perf", "stat", "-x,", "-e", "task-clock", "-o", csv, "--", ...argv] : argv;
  const t0 = performance.now();
  const r = Bun.spawnSync(full, { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const wall = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  const line = perf ? readFileSync(csv, "utf8").split("\n").find((l) => l.includes("task-clock")) : undefined;
  return { wall, cpu: line ? Number(line.split(",")[0]) : NaN };
}

try {
  const roots = bins.map((_, k) => join(work, `root${k}`));
  bins.forEach((b, k) => once(b, roots[k]!));
  const wall: number[][] = bins.map(() => []);
  const cpu: number[][] = bins.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    const order = bins.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) {
      const m = once(bins[k]!, roots[k]!);
      if (i < 2) continue;
      wall[k]!.push(m.wall);
      cpu[k]!.push(m.cpu);
    }
  }
  const w0 = median(wall[0]!), c0 = median(cpu[0]!);
  bins.forEach((b, k) => {
    const w = median(wall[k]!), c = median(cpu[k]!);
    console.log(`${String.fromCharCode(65 + k)} ${b}: wall ${w.toFixed(1)} ms (${(w / w0).toFixed(3)})   cpu ${c.toFixed(1)} ms (${(c / c0).toFixed(3)})`);
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}
