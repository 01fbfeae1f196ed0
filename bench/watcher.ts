// Resident memory of the process that watches a detached container (`minid _watcher`), against
// conmon (Podman's C watcher) running runc on the same busybox rootfs.
//   bun bench/watcher.ts [--containers N] [--quick]   (as root; builds dist/minid first if missing)
// With --containers 100, the 100 detached containers run at once (all started, then measured).
// --quick: the idle phase and conmon only.
// Reported per watcher, medians over N containers, from /proc/PID/smaps_rollup:
//   RSS   resident set (what `ps` shows),
//   PSS   proportional set: pages shared with other processes divided among them,
//   anon  private anonymous memory (heap, stacks): what each extra watcher really costs.
// Phases: idle (after the watcher's self-trim), the same without trimming (MINID_WATCHER_TRIM=0),
// during a burst of output, and idle again after it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { BIN, REPO, benchPreconditions, median, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const N = Number(args[args.indexOf("--containers") + 1] ?? 0) || 10;

interface Mem {
  rss: number;
  pss: number;
  anon: number;
}

function mem(pid: number): Mem {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0);
  return { rss: get("Rss"), pss: get("Pss"), anon: get("Anonymous") };
}


function summary(label: string, ms: Mem[]): Mem {
  const r = { rss: median(ms.map((m) => m.rss)), pss: median(ms.map((m) => m.pss)), anon: median(ms.map((m) => m.anon)) };
  const mb = (k: number) => (k / 1024).toFixed(1).padStart(5);
  // Total PSS: what all of them together take from the machine (shared pages counted once).
  const total = ms.reduce((s, m) => s + m.pss, 0);
  console.log(`${label.padEnd(44)} RSS ${mb(r.rss)} MB   PSS ${mb(r.pss)} MB   anon ${mb(r.anon)} MB   (n=${ms.length}, total PSS ${mb(total)} MB)`);
  return r;
}

function minid(root: string, ...a: string[]): string {
  const r = Bun.spawnSync([BIN, "--root", root, ...a], { env: { ...process.env } });
  if (r.exitCode !== 0) throw new Error(`minid ${a.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

function watcherPids(root: string, names: string[]): number[] {
  return names.map((n) => {
    const id = minid(root, "ps", "-aq", "--no-trunc", "-f", `name=^${n}$`).trim();
    return JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")).state.watcherPid as number;
  });
}

async function phase(root: string, label: string, cmd: string[], env: Record<string, string>, settleMs: number): Promise<Mem> {
  const names = Array.from({ length: N }, (_, i) => `w${label.replace(/\W/g, "")}${i}`);
  for (const n of names) {
    const r = Bun.spawnSync([BIN, "--root", root, "run", "-d", "--name", n, "busybox", ...cmd], { env: { ...process.env, ...env } });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  }
  await Bun.sleep(settleMs);
  const pids = watcherPids(root, names);
  const m = summary(label, pids.map(mem));
  Bun.spawnSync([BIN, "--root", root, "rm", "-f", ...names]);
  return m;
}

async function burst(root: string): Promise<void> {
  // Output for ~4 s, then silence: measured during the burst and once it is over.
  const names = Array.from({ length: N }, (_, i) => `burst${i}`);
  const script = "i=0; while [ $i -lt 4000 ]; do echo line $i; echo err $i >&2; i=$((i+1)); done; sleep 3600";
  for (const n of names) minid(root, "run", "-d", "--name", n, "busybox", "sh", "-c", script);
  await Bun.sleep(300);
  const pids = watcherPids(root, names);
  summary("minid watcher, during an output burst", pids.map(mem));
  await Bun.sleep(6000);
  summary("minid watcher, idle again after the burst", pids.map(mem));
  Bun.spawnSync([BIN, "--root", root, "rm", "-f", ...names]);
}

function conmon(work: string): Mem[] | undefined {
  if (!Bun.which("conmon") || !Bun.which("runc")) return undefined;
  const bundle = join(work, "bundle");
  const rootfs = join(bundle, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  if (Bun.spawnSync(["tar", "--numeric-owner", "-xzf", join(REPO, "images", "build", "busybox.tar.gz"), "-C", rootfs]).exitCode !== 0) return undefined;
  if (Bun.spawnSync(["runc", "spec", "--bundle", bundle]).exitCode !== 0) return undefined;
  const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  spec.process.terminal = false;
  spec.process.args = ["/bin/sleep", "3600"];
  spec.root = { path: "rootfs", readonly: true };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  const runcRoot = join(work, "runc");
  const out: Mem[] = [];
  const ids: string[] = [];
  try {
    for (let i = 0; i < N; i++) {
      const id = `minid-bench-conmon-${process.pid}-${i}`;
      const dir = join(work, id);
      mkdirSync(join(dir, "exit"), { recursive: true });
      const r = Bun.spawnSync([
        "conmon", "-c", id, "-u", id, "-n", id, "-r", "/usr/sbin/runc", "-b", bundle,
        "-p", join(dir, "pid"), "--conmon-pidfile", join(dir, "conmon.pid"), "-l", `k8s-file:${join(dir, "log")}`,
        "--exit-dir", join(dir, "exit"), "--socket-dir-path", dir, "--runtime-arg", `--root=${runcRoot}`,
      ]);
      if (r.exitCode !== 0) return undefined;
      ids.push(id);
      // conmon returns before runc's create has finished: start only a created container.
      const state = () => {
        const s = Bun.spawnSync(["runc", "--root", runcRoot, "state", id]);
        return s.exitCode === 0 ? (JSON.parse(s.stdout.toString()).status as string) : "";
      };
      for (let t = 0; t < 200 && state() !== "created"; t++) Bun.sleepSync(10);
      Bun.spawnSync(["runc", "--root", runcRoot, "start", id]);
    }
    Bun.sleepSync(1000);
    for (const id of ids) {
      // A conmon that is gone (its container failed) is reported, not measured.
      try {
        out.push(mem(Number(readFileSync(join(work, id, "conmon.pid"), "utf8"))));
      } catch (e) {
        console.error(`conmon of ${id} is not running (${(e as Error).message.split("\n")[0]}): not measured`);
      }
    }
  } finally {
    for (const id of ids) {
      Bun.spawnSync(["runc", "--root", runcRoot, "kill", id, "KILL"]);
      Bun.sleepSync(100);
      Bun.spawnSync(["runc", "--root", runcRoot, "delete", "-f", id]);
    }
  }
  return out;
}

benchPreconditions("bench/watcher.ts");
const work = mkdtempSync(join(tmpdir(), "minid-bench-watcher-"));
const root = join(work, "root");
try {
  minid(root, "run", "--rm", "busybox", "true");
  const idle = await phase(root, "minid watcher, idle (self-trimmed)", ["sleep", "3600"], {}, 2500);
  if (!args.includes("--quick")) {
    const raw = await phase(root, "minid watcher, idle, MINID_WATCHER_TRIM=0", ["sleep", "3600"], { MINID_WATCHER_TRIM: "0" }, 2500);
    console.log(`untrimmed idle RSS ${(raw.rss / 1024).toFixed(1)} MB`);
    await burst(root);
  }
  const c = conmon(work);
  if (c?.length) {
    const cm = summary("conmon (Podman's C watcher) + runc", c);
    console.log(`ratio minid/conmon (idle RSS): ${(idle.rss / cm.rss).toFixed(1)}   (idle PSS): ${(idle.pss / cm.pss).toFixed(1)}`);
  } else console.log("conmon: unavailable (conmon or runc missing, or it failed here)");
  console.log(`target: PSS under 5 MB each. idle PSS ${(idle.pss / 1024).toFixed(1)} MB, RSS ${(idle.rss / 1024).toFixed(1)} MB`);
} finally {
  const ids = Bun.spawnSync([BIN, "--root", root, "ps", "-aq"]).stdout.toString().split("\n").filter(Boolean);
  if (ids.length) Bun.spawnSync([BIN, "--root", root, "rm", "-f", ...ids]);
  dropNetworking(work);
  rmSync(work, { recursive: true, force: true });
}
