// Memory of `--init`'s PID 1 (minid's init staying as the reaper) against tini-static, the
// docker-init Docker bind-mounts, reaping the same command; and what a healthcheck every
// second costs the watcher.
//   bun bench/init.ts [--containers N]        (as root; builds dist/minid first if missing)
// Medians over N containers from /proc/PID/smaps_rollup: RSS, PSS (shared pages divided among
// the processes sharing them) and private anonymous memory.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BIN, benchPreconditions, median, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const N = Number(args[args.indexOf("--containers") + 1] ?? 0) || 5;

type Mem = { rss: number; pss: number; anon: number };
function mem(pid: number): Mem {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0);
  return { rss: get("Rss"), pss: get("Pss"), anon: get("Anonymous") };
}
function summary(label: string, ms: Mem[]): void {
  const mb = (k: number) => (k / 1024).toFixed(1).padStart(5);
  const m = (f: keyof Mem) => median(ms.map((x) => x[f]));
  console.log(`${label.padEnd(46)} RSS ${mb(m("rss"))} MB   PSS ${mb(m("pss"))} MB   anon ${mb(m("anon"))} MB   (n=${ms.length})`);
}
function minid(root: string, ...a: string[]): string {
  const r = Bun.spawnSync([BIN, "--root", root, ...a]);
  if (r.exitCode !== 0) throw new Error(`minid ${a.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
const stateOf = (root: string, name: string) => {
  const id = minid(root, "ps", "-aq", "--no-trunc", "-f", `name=^${name}$`).trim();
  return JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")).state;
};

benchPreconditions("init");
const root = mkdtempSync(join(tmpdir(), "minid-bench-init-"));
const tinis: ReturnType<typeof Bun.spawn>[] = [];
try {
  const names = Array.from({ length: N }, (_, i) => `init${i}`);
  for (const n of names) minid(root, "run", "-d", "--name", n, "--init", "busybox", "sleep", "3600");
  await Bun.sleep(2000); // the reaper trims itself 0.5 s after the command starts
  summary("minid --init (PID 1: init as reaper)", names.map((n) => mem(stateOf(root, n).pid)));
  const tini = ["/usr/bin/tini-static", "/usr/bin/docker-init"].find(existsSync);
  if (tini) {
    for (let i = 0; i < N; i++) tinis.push(Bun.spawn([tini, "-s", "--", "sleep", "3600"], { stdio: ["ignore", "ignore", "ignore"] }));
    await Bun.sleep(500);
    summary(`tini (${tini})`, tinis.map((p) => mem(p.pid)));
  } else console.log("tini: not installed (Debian's tini package), not measured");
  minid(root, "rm", "-f", ...names);

  const h = Array.from({ length: N }, (_, i) => `hc${i}`);
  const p = Array.from({ length: N }, (_, i) => `plain${i}`);
  for (const n of h) minid(root, "run", "-d", "--name", n, "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep", "3600");
  for (const n of p) minid(root, "run", "-d", "--name", n, "busybox", "sleep", "3600");
  await Bun.sleep(8000);
  summary("minid watcher, no healthcheck", p.map((n) => mem(stateOf(root, n).watcherPid)));
  summary("minid watcher, a healthcheck every second", h.map((n) => mem(stateOf(root, n).watcherPid)));
  minid(root, "rm", "-f", ...h, ...p);
} finally {
  for (const t of tinis) t.kill(9);
  dropNetworking(root); // the default bridge and its rules outlive the containers
  rmSync(root, { recursive: true, force: true });
}
