// Every benchmark, one table: minid against its peers, all measured in this run.
//   bun bench/all.ts [--runs N] [--only start,exec,commit,pull,scale,bigimage,watcher] [--no-docker] [--no-podman]
//                    [--before BIN]   (another minid, e.g. an older build, timed in the same rounds)
// (as root; builds dist/minid first if missing). Start and exec latencies are timed round by
// round, every contender once per round, so the load other work puts on the machine hits all
// alike; the table shows medians and minid's ratio to each peer. Docker and Podman are private
// to this run (bench/peers.ts) and removed afterwards. The throughput benchmarks
// (commit-import.ts, pull.ts, scale.ts, bigimage.ts, watcher.ts) run as they are and their results are collected.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BIN, REPO, benchPreconditions, median, timeCommand, dropNetworking } from "./lib.ts";
import { CrunTimer, busyboxArchive, have, makeBundle, startDocker, startPodman, type Daemon } from "./peers.ts";

const args = process.argv.slice(2);
const opt = (name: string) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
const RUNS = Number(opt("--runs") ?? 20);
const only = opt("--only")?.split(",");
const want = (s: string) => !only || only.includes(s);
const BEFORE = opt("--before");

type Row = { op: string; minid?: number; peer: string; value?: number; unit: string; note?: string };
const rows: Row[] = [];

/** Time each contender once per round, `RUNS` rounds (after 2 warm-up rounds); medians. */
async function rounds(contenders: Record<string, () => number | Promise<number>>): Promise<Record<string, number>> {
  const xs: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  const names = Object.keys(contenders);
  for (let i = 0; i < RUNS + 2; i++) {
    const order = i % 2 ? [...names].reverse() : names;
    for (const k of order) {
      const t = await contenders[k]!();
      if (i >= 2) xs[k]!.push(t);
    }
  }
  const out: Record<string, number> = {};
  for (const k of names) {
    out[k] = median(xs[k]!);
    const s = [...xs[k]!].sort((a, b) => a - b);
    console.error(`  ${k}: median ${out[k]!.toFixed(1)} ms  p10 ${s[Math.floor(s.length * 0.1)]!.toFixed(1)}  p90 ${s[Math.floor(s.length * 0.9)]!.toFixed(1)}`);
  }
  return out;
}

function pidOf(cli: string[], name: string): number {
  const r = Bun.spawnSync([...cli, "inspect", "-f", "{{.State.Pid}}", name], { stdout: "pipe", stderr: "pipe" });
  return Number(r.stdout.toString().trim());
}

benchPreconditions("bench/all.ts");
const work = mkdtempSync(join("/var/tmp", "minid-bench-all-"));
const root = join(work, "minid-root");
const beforeRoot = join(work, "minid-before-root");
let docker: Daemon | undefined;
let podman: Daemon | undefined;
let crun: CrunTimer | undefined;
try {
  const needPeers = want("start") || want("exec");
  const archive = busyboxArchive(root);
  if (needPeers && !args.includes("--no-docker")) docker = await startDocker(work, archive);
  if (needPeers && !args.includes("--no-podman")) podman = startPodman(work, archive);
  const podmanParent = (podman as any)?.cgroupParent as string | undefined;

  if (want("start")) {
    console.error(`start: run --rm busybox true, ${RUNS} rounds`);
    const bundle = makeBundle(work);
    crun = CrunTimer.start(bundle);
    let n = 0;
    const c: Record<string, () => number | Promise<number>> = {
      minid: () => timeCommand([BIN, "--root", root, "run", "--rm", "busybox", "true"]),
    };
    if (BEFORE) {
      timeCommand([BEFORE, "--root", beforeRoot, "run", "--rm", "busybox", "true"]);
      c.before = () => timeCommand([BEFORE, "--root", beforeRoot, "run", "--rm", "busybox", "true"]);
    }
    if (have("runc")) c.runc = () => timeCommand(["runc", "run", "-b", bundle, `minid-bench-runc-${process.pid}-${n++}`]);
    if (crun) c.crun = () => crun!.time();
    if (docker) c.docker = () => timeCommand([...docker!.cli, "run", "--rm", "--network", "none", "busybox", "true"]);
    if (podman) c.podman = () => timeCommand([...podman!.cli, "run", "--rm", "--cgroup-parent", podmanParent!, "busybox", "true"]);
    const m = await rounds(c);
    for (const [peer, label] of [["before", `minid before (${BEFORE})`], ["runc", "runc run"], ["crun", "crun run"], ["docker", "docker run --rm"], ["podman", "podman run --rm"]] as const) {
      if (m[peer] !== undefined) rows.push({ op: "run --rm busybox true", minid: m.minid, peer: label, value: m[peer], unit: "ms" });
    }
  }

  if (want("exec")) {
    console.error(`exec: exec c true into a running busybox, ${RUNS} rounds`);
    const started = Bun.spawnSync([BIN, "--root", root, "run", "-d", "--name", "bench-exec", "busybox", "sleep", "3600"]);
    if (started.exitCode !== 0) throw new Error(`minid run -d: ${started.stderr}`);
    const pid = pidOf([BIN, "--root", root], "bench-exec");
    if (BEFORE) Bun.spawnSync([BEFORE, "--root", beforeRoot, "run", "-d", "--name", "bench-exec", "busybox", "sleep", "3600"]);
    const c: Record<string, () => number> = {
      minid: () => timeCommand([BIN, "--root", root, "exec", "bench-exec", "true"]),
      ...(BEFORE ? { before: () => timeCommand([BEFORE, "--root", beforeRoot, "exec", "bench-exec", "true"]) } : {}),
      nsenter: () => timeCommand(["nsenter", "-t", String(pid), "-m", "-u", "-i", "-n", "-p", "-C", "true"]),
    };
    if (docker && timeCommand([...docker.cli, "run", "-d", "--name", "bench-exec", "--network", "none", "busybox", "sleep", "3600"]) >= 0) {
      c.docker = () => timeCommand([...docker!.cli, "exec", "bench-exec", "true"]);
    }
    if (podman && timeCommand([...podman.cli, "run", "-d", "--name", "bench-exec", "--cgroup-parent", podmanParent!, "busybox", "sleep", "3600"]) >= 0) {
      c.podman = () => timeCommand([...podman!.cli, "exec", "bench-exec", "true"]);
    }
    c["minid --version"] = () => timeCommand([BIN, "--version"]);
    const m = await rounds(c);
    for (const [peer, label] of [["before", `minid before (${BEFORE})`], ["nsenter", "nsenter (no confinement)"], ["docker", "docker exec"], ["podman", "podman exec"], ["minid --version", "minid --version (start-up alone)"]] as const) {
      if (m[peer] !== undefined) rows.push({ op: "exec c true", minid: m.minid, peer: label, value: m[peer], unit: "ms" });
    }
    Bun.spawnSync([BIN, "--root", root, "rm", "-f", "bench-exec"]);
    if (BEFORE) Bun.spawnSync([BEFORE, "--root", beforeRoot, "rm", "-f", "bench-exec"]);
    if (docker) Bun.spawnSync([...docker.cli, "rm", "-f", "bench-exec"], { stdout: "ignore", stderr: "ignore" });
    if (podman) Bun.spawnSync([...podman.cli, "rm", "-f", "-t", "0", "bench-exec"], { stdout: "ignore", stderr: "ignore" });
  }
  docker?.stop();
  docker = undefined;
  podman?.stop();
  podman = undefined;
  crun?.stop();
  crun = undefined;

  const script = (name: string, extra: string[]) => {
    console.error(`${name}: bun bench/${name} ${extra.join(" ")}`);
    const r = Bun.spawnSync([process.execPath, join(REPO, "bench", name), ...extra], { stdout: "pipe", stderr: "inherit", cwd: REPO });
    if (r.exitCode !== 0) console.error(`${name} failed (${r.exitCode})`);
    return r.stdout.toString();
  };

  if (want("commit")) {
    // In RAM (/dev/shm) when there is one: the disk of a shared machine would measure the others.
    const shm = existsSync("/dev/shm");
    const out = script("commit-import.ts", ["--runs", "3", ...(shm ? ["--dir", "/dev/shm"] : [])]);
    const j = out.split("\n").find((l) => l.startsWith("{"));
    if (j) {
      const d = JSON.parse(j);
      const mb = (d.bytes / 1e6).toFixed(0);
      const med = (xs: number[]) => median(xs) * 1000;
      const where = shm ? ", in /dev/shm" : "";
      rows.push({ op: `import (${mb} MB / ${d.files} files${where})`, minid: med(d.import), peer: "tar -x", value: med(d.tarExtract), unit: "ms" });
      rows.push({ op: `commit -o (${mb} MB / ${d.files} files${where})`, minid: med(d.commit), peer: "tar -c", value: med(d.tarCreate), unit: "ms" });
    }
  }

  if (want("pull") && have("docker-registry") && have("skopeo")) {
    const out = script("pull.ts", ["--runs", "5"]);
    const num = (re: RegExp) => Number(re.exec(out)?.[1]);
    const mp = num(/minid pull:\s+median (\d+)/), sk = num(/skopeo copy to oci:\s+median (\d+)/);
    const mr = num(/minid pull \+ first run \(unpacks\): median (\d+)/), su = num(/skopeo copy \+ umoci unpack: median (\d+)/);
    if (mp && sk) rows.push({ op: "pull (local registry)", minid: mp, peer: "skopeo copy", value: sk, unit: "ms" });
    if (mr && su) rows.push({ op: "pull + first run", minid: mr, peer: "skopeo copy + umoci unpack", value: su, unit: "ms" });
  }

  if (want("scale")) {
    const out = script("scale.ts", ["--runs", "9"]);
    const ps = /ps -a \((\d+) containers\):\s+median ([\d.]+) ms/.exec(out);
    const im = /images \((\d+) images\):\s+median ([\d.]+) ms/.exec(out);
    if (ps) rows.push({ op: `ps -a, ${ps[1]} containers`, minid: Number(ps[2]), peer: "goal", value: 100, unit: "ms" });
    if (im) rows.push({ op: `images, ${im[1]} images`, minid: Number(im[2]), peer: "goal", value: 100, unit: "ms" });
  }

  if (want("bigimage")) {
    const out = script("bigimage.ts", ["--runs", String(Math.min(RUNS, 15))]);
    const j = out.split("\n").find((l) => l.startsWith("{"));
    if (j) {
      const d = JSON.parse(j);
      rows.push({ op: `run --rm, ${(d.mb / 1000).toFixed(0)} GB / ${d.files} files image`, minid: d.big, peer: "same, busybox image", value: d.busybox, unit: "ms" });
    }
  }

  if (want("watcher")) {
    const out = script("watcher.ts", ["--containers", "100", "--quick"]);
    for (const l of out.split("\n").filter((l) => /PSS/.test(l))) console.error(`  ${l}`);
    const idle = /idle \(self-trimmed\)\s+RSS\s+([\d.]+) MB\s+PSS\s+([\d.]+) MB.*total PSS\s+([\d.]+) MB/.exec(out);
    const conmon = /conmon.*?RSS\s+([\d.]+) MB\s+PSS\s+([\d.]+) MB.*total PSS\s+([\d.]+) MB/.exec(out);
    if (idle) {
      rows.push({ op: "watcher PSS each, 100 detached at once", minid: Number(idle[2]), peer: conmon ? "conmon + runc" : "-", value: conmon ? Number(conmon[2]) : undefined, unit: "MB" });
      rows.push({ op: "watchers' total PSS, 100 detached", minid: Number(idle[3]), peer: conmon ? "conmon + runc" : "-", value: conmon ? Number(conmon[3]) : undefined, unit: "MB" });
    }
  }
} finally {
  docker?.stop();
  podman?.stop();
  crun?.stop();
  Bun.spawnSync([BIN, "--root", root, "rm", "-f", "bench-exec"], { stdout: "ignore", stderr: "ignore" });
  if (BEFORE) Bun.spawnSync([BEFORE, "--root", beforeRoot, "rm", "-f", "bench-exec"], { stdout: "ignore", stderr: "ignore" });
  dropNetworking(work); // the default bridge and its rules outlive the containers
  rmSync(work, { recursive: true, force: true });
}

const fmt = (v: number | undefined, unit: string) => (v === undefined ? "-" : unit === "MB" ? `${v.toFixed(1)} MB` : `${v.toFixed(1)} ms`);
console.log(`| operation | minid | peer | peer's median | minid/peer |`);
console.log(`|---|---|---|---|---|`);
for (const r of rows) {
  const ratio = r.minid !== undefined && r.value ? (r.minid / r.value).toFixed(2) : "-";
  console.log(`| ${r.op} | ${fmt(r.minid, r.unit)} | ${r.peer} | ${fmt(r.value, r.unit)} | ${ratio} |`);
}
console.log(`\n(${RUNS} rounds for start/exec; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`);
