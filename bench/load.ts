// Load figures (issue 15): many detached containers on one root.
//   bun bench/load.ts [--containers N] [--rounds R]     (as root; builds dist/minid if missing)
// Per round, on a fresh root: N × `run -d busybox sleep` one after another (total), `ps -a`
// with N running, `stats --no-stream` over N, the watchers' memory (RSS and PSS from
// /proc/PID/smaps_rollup, median per watcher), then one `rm -f` of all N (total).
// Prints the median of each figure over the rounds. A benchmark, not a test: no thresholds.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BIN, benchPreconditions, median, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || dflt : dflt);
const N = opt("--containers", 50);
const ROUNDS = opt("--rounds", 3);
const REPEAT = 5; // samples of the quick commands per round

benchPreconditions("bench/load.ts");

function minid(root: string, ...a: string[]): { ms: number; out: string } {
  const t0 = performance.now();
  const r = Bun.spawnSync([BIN, "--root", root, ...a], { stdin: "ignore", env: { ...process.env } });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`minid ${a.join(" ")}: ${r.stderr.toString()}`);
  return { ms, out: r.stdout.toString() };
}

function smaps(pid: number): { rss: number; pss: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0);
  return { rss: get("Rss"), pss: get("Pss") };
}

interface Round {
  run: number;
  ps: number;
  stats: number;
  rss: number;
  pss: number;
  rm: number;
}

function round(): Round {
  const root = mkdtempSync(join(tmpdir(), "minid-bench-load-"));
  const ids: string[] = [];
  try {
    minid(root, "images"); // unpack the built-in image outside the timed part
    const t0 = performance.now();
    for (let i = 0; i < N; i++) ids.push(minid(root, "run", "-d", "busybox", "sleep", "100000").out.trim());
    const run = performance.now() - t0;
    const ps = median(Array.from({ length: REPEAT }, () => minid(root, "ps", "-a").ms));
    const statsOut = minid(root, "stats", "--no-stream");
    if (statsOut.out.trim().split("\n").length !== N + 1) throw new Error(`stats listed ${statsOut.out.trim().split("\n").length - 1} of ${N}`);
    const stats = median([statsOut.ms, ...Array.from({ length: REPEAT - 1 }, () => minid(root, "stats", "--no-stream").ms)]);
    const mems = ids.map((id) => smaps(JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")).state.shimPid));
    const rm = minid(root, "rm", "-f", ...ids).ms;
    ids.length = 0;
    return { run, ps, stats, rss: median(mems.map((m) => m.rss)), pss: median(mems.map((m) => m.pss)), rm };
  } finally {
    if (ids.length) Bun.spawnSync([BIN, "--root", root, "rm", "-f", ...ids]);
    dropNetworking(root);
    rmSync(root, { recursive: true, force: true });
  }
}

const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) {
  rounds.push(round());
  const x = rounds.at(-1)!;
  console.error(`round ${r + 1}: run ${(x.run / 1000).toFixed(2)} s, ps ${x.ps.toFixed(0)} ms, stats ${(x.stats / 1000).toFixed(2)} s, rm ${(x.rm / 1000).toFixed(2)} s`);
}
const m = (k: keyof Round) => median(rounds.map((r) => r[k]));
const mb = (kb: number) => (kb / 1024).toFixed(1);
console.log(`load figures, ${N} containers, median of ${ROUNDS} rounds`);
console.log(`  ${N} x run -d            ${(m("run") / 1000).toFixed(2)} s`);
console.log(`  ps -a (${N} running)     ${m("ps").toFixed(0)} ms`);
console.log(`  stats --no-stream      ${(m("stats") / 1000).toFixed(2)} s`);
console.log(`  rm -f of ${N}            ${(m("rm") / 1000).toFixed(2)} s`);
console.log(`  watcher, each          RSS ${mb(m("rss"))} MB / PSS ${mb(m("pss"))} MB`);
