// A/B(/C...): minid binaries timed alternately, round after round, so the load other work puts
// on the machine hits all alike; wall time and CPU time (perf stat task-clock, every process
// the run starts: CLI, watcher, init) medians. For deciding whether a change helps.
//   bun bench/ab.ts BIN_A BIN_B [BIN_C...] [--runs N] [-- minid args...]
//   (default args: run --rm busybox true)
//   --setup "ARGS": minid ARGS run once in every root before the timing (e.g. for exec:
//   --setup "run -d --name c busybox sleep 600" -- exec c true); --cleanup "ARGS" after.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { dropNetworking, median } from "./lib.ts";

const args = process.argv.slice(2);
const dash = args.indexOf("--");
const head = dash >= 0 ? args.slice(0, dash) : args;
const opt = (name: string) => (head.indexOf(name) >= 0 ? head[head.indexOf(name) + 1] : undefined);
const runs = Number(opt("--runs") ?? 40);
const setup = opt("--setup")?.split(" ");
const cleanup = opt("--cleanup")?.split(" ");
const optIdx = new Set(["--runs", "--setup", "--cleanup"].flatMap((n) => (head.indexOf(n) >= 0 ? [head.indexOf(n), head.indexOf(n) + 1] : [])));
const bins = head.filter((_, i) => !optIdx.has(i));
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

function timeCommandIn(bin: string, root: string, a: string[]): void {
  Bun.spawnSync([bin, "--root", root, ...a], { stdout: "ignore", stderr: "inherit" });
}

try {
  const roots = bins.map((_, k) => join(work, `root${k}`));
  bins.forEach((b, k) => {
    timeCommandIn(b, roots[k]!, ["run", "--rm", "busybox", "true"]);
    if (setup) timeCommandIn(b, roots[k]!, setup);
    once(b, roots[k]!);
  });
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
  if (cleanup) bins.forEach((b, k) => timeCommandIn(b, roots[k]!, cleanup));
} finally {
  dropNetworking(work); // the roots' default bridges and rules (they outlive containers)
  rmSync(work, { recursive: true, force: true });
}
