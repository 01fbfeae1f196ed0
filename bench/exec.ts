// `minid exec` latency against `nsenter` into the same running container, measured in the same
// run, with `minid --version` (the cost of starting the minid binary at all) for reference.
//   bun bench/exec.ts [--runs N]        (as root; builds dist/minid first if missing)
// nsenter enters the same namespaces (mnt, uts, ipc, net, pid, cgroup) but applies none of the
// container's confinement (capabilities, no_new_privs, seccomp, cgroup); minid exec does.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { BIN, REPO, benchPreconditions, median, timeCommand, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 50;
const WARMUP = 5;

const time = timeCommand;


/** Time every command once per round, round after round, so load changes hit all alike. */
function interleaved(cmds: Record<string, string[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const k of Object.keys(cmds)) out[k] = [];
  for (let i = 0; i < WARMUP; i++) for (const c of Object.values(cmds)) time(c);
  for (let i = 0; i < runs; i++) for (const [k, c] of Object.entries(cmds)) out[k]!.push(time(c));
  for (const [k, xs] of Object.entries(out)) {
    const s = [...xs].sort((a, b) => a - b);
    console.error(`${k}: median ${median(xs).toFixed(1)} ms, p10 ${s[Math.floor(runs * 0.1)]!.toFixed(1)}, p90 ${s[Math.floor(runs * 0.9)]!.toFixed(1)} over ${runs} runs`);
  }
  return out;
}

benchPreconditions("bench/exec.ts");
const root = mkdtempSync(join(tmpdir(), "minid-bench-exec-"));
try {
  const run = Bun.spawnSync([BIN, "--root", root, "run", "-d", "--name", "bench", "busybox", "sleep", "3600"]);
  if (run.exitCode !== 0) throw new Error(`run -d failed: ${run.stderr.toString()}`);
  const id = run.stdout.toString().trim();
  const pid = JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")).state.pid as number;
  const t = interleaved({
    "minid exec bench true": [BIN, "--root", root, "exec", "bench", "true"],
    "nsenter -t PID -m -u -i -n -p -C true": ["nsenter", "-t", String(pid), "-m", "-u", "-i", "-n", "-p", "-C", "true"],
    "minid --version (start-up alone)": [BIN, "--version"],
  });
  const m = median(t["minid exec bench true"]!);
  const n = median(t["nsenter -t PID -m -u -i -n -p -C true"]!);
  const v = median(t["minid --version (start-up alone)"]!);
  console.log(`minid exec:      median ${m.toFixed(1)} ms`);
  console.log(`nsenter:         median ${n.toFixed(1)} ms   minid/nsenter = ${(m / n).toFixed(1)}`);
  console.log(`minid --version: median ${v.toFixed(1)} ms   (exec beyond start-up: ${(m - v).toFixed(1)} ms)`);
} finally {
  Bun.spawnSync([BIN, "--root", root, "rm", "-f", "bench"]);
  dropNetworking(root);
  rmSync(root, { recursive: true, force: true });
}
