// Where the time of one `minid run --rm busybox true` goes: runs it N times with
// MINID_TRACE=1 and prints, for every milestone, its median time since the CLI process
// started (its performance.timeOrigin) and the median step from the milestone before.
//   bun bench/trace.ts [--runs N] [--bin PATH] [-- extra run args...]
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BIN as BUILT, benchPreconditions, dropNetworking, median } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 30;
const BIN = args.includes("--bin") ? args[args.indexOf("--bin") + 1]! : BUILT;
const dash = args.indexOf("--");
const extra = dash >= 0 ? args.slice(dash + 1) : ["busybox", "true"];
benchPreconditions("bench/trace.ts");
const root = mkdtempSync(join(tmpdir(), "minid-bench-trace-"));
const at = new Map<string, number[]>();
const walls: number[] = [];
try {
  Bun.spawnSync([BIN, "--root", root, "run", "--rm", ...extra]);
  for (let i = 0; i < runs + 3; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const r = Bun.spawnSync([BIN, "--root", root, "run", "--rm", ...extra], { env: { ...process.env, MINID_TRACE: "1" }, stdout: "ignore", stderr: "pipe" });
    const wall = performance.timeOrigin + performance.now() - t0;
    if (i < 3) continue;
    walls.push(wall);
    const lines = r.stderr.toString().split("\n").filter((l) => l.startsWith("trace "));
    const pids = new Map<string, string>();
    let origin = t0;
    for (const l of lines) {
      const [, ts, pid, ...rest] = l.split(" ");
      let label = rest.join(" ");
      if (!pids.has(pid!)) pids.set(pid!, pids.size === 0 ? "cli" : label.startsWith("entry") && pids.size === 1 ? "watcher" : "init");
      const who = pid === "1" ? "init" : pids.get(pid!)!;
      const m = /^entry \(origin ([\d.]+)\)/.exec(label);
      if (m) {
        const k = `${who} process start`;
        (at.get(k) ?? at.set(k, []).get(k)!).push(Number(m[1]) - t0);
        label = "entry";
      }
      const k = `${who} ${label}`;
      (at.get(k) ?? at.set(k, []).get(k)!).push(Number(ts) - t0);
    }
    void origin;
  }
} finally {
  dropNetworking(root); // its default bridge and rules outlive the containers
  rmSync(root, { recursive: true, force: true });
}
const rows = [...at.entries()].map(([k, xs]) => [k, median(xs)] as const).sort((a, b) => a[1] - b[1]);
let prev = 0;
for (const [k, m] of rows) {
  console.log(`${m.toFixed(1).padStart(7)} ms  +${(m - prev).toFixed(1).padStart(5)}  ${k}`);
  prev = m;
}
console.log(`${median(walls).toFixed(1).padStart(7)} ms  wall (median of ${walls.length})`);
