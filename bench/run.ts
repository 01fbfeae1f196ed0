// Container start latency: `minid run --rm busybox true` against `runc run` and `crun run` on
// the same busybox rootfs, measured in the same run. Prints medians and ratios. The network's
// cost is `--network bridge` (the default: veth, address, route) against `--network none`
// (only lo), the two runs interleaved so that load on the machine hits both alike.
//   bun bench/run.ts [--runs N]        (as root; builds dist/minid first if missing)
// crun refuses this host's hybrid cgroups, so it runs inside a private mount namespace with a
// cgroup2 mounted over /sys/fs/cgroup and --cgroup-manager=disabled (see design.md); that
// set-up happens once, outside the timed loop.
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { BIN, REPO, benchPreconditions, median, timeCommand, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 30;
const WARMUP = 3;

const time = timeCommand;


function series(label: string, f: (i: number) => number): number[] {
  for (let i = 0; i < WARMUP; i++) f(-1 - i);
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(f(i));
  console.error(`${label}: median ${median(xs).toFixed(1)} ms over ${runs} runs`);
  return xs;
}

// Inner mode: timed crun loop inside the private mount namespace.
if (args[0] === "--crun-inner") {
  const bundle = args[1]!;
  const xs = series("crun run", (i) => time(["crun", "--cgroup-manager=disabled", "run", "-b", bundle, `minid-bench-crun-${process.pid}-${i + 10}`]));
  process.stdout.write(JSON.stringify(xs));
  process.exit(0);
}

function makeBundle(work: string): string {
  const bundle = join(work, "bundle");
  const rootfs = join(bundle, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  const image = join(REPO, "images", "build", "busybox.tar.gz");
  if (Bun.spawnSync(["tar", "--numeric-owner", "-xzf", image, "-C", rootfs]).exitCode !== 0) throw new Error("cannot unpack busybox");
  if (Bun.spawnSync(["runc", "spec", "--bundle", bundle]).exitCode !== 0) throw new Error("runc spec failed");
  const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  spec.process.terminal = false;
  spec.process.args = ["/bin/true"];
  spec.root = { path: "rootfs", readonly: true };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return bundle;
}

benchPreconditions("bench/run.ts");
const work = mkdtempSync(join(tmpdir(), "minid-bench-run-"));
try {
  const bundle = makeBundle(work);
  const root = join(work, "minid-root");
  time([BIN, "--root", root, "run", "--rm", "busybox", "true"]); // import the built-in image
  const net = (mode: string) => time([BIN, "--root", root, "run", "--rm", "--network", mode, "busybox", "true"]);
  for (let i = 0; i < WARMUP; i++) net("bridge"), net("none");
  const bridge: number[] = [];
  const none: number[] = [];
  for (let i = 0; i < runs; i++) {
    bridge.push(net("bridge"));
    none.push(net("none"));
  }
  const minid = bridge;
  console.error(`minid run --rm --network bridge busybox true: median ${median(bridge).toFixed(1)} ms over ${runs} runs`);
  console.error(`minid run --rm --network none busybox true: median ${median(none).toFixed(1)} ms over ${runs} runs`);
  // Published ports (network/portmap.ts): `-p 80` adds a host port held by the watcher and the
  // container's DNAT rules, put in at start and taken out at stop; interleaved with bridge runs.
  const pub = () => time([BIN, "--root", root, "run", "--rm", "-p", "80", "busybox", "true"]);
  for (let i = 0; i < WARMUP; i++) pub();
  const published: number[] = [];
  const bridgeBeside: number[] = [];
  for (let i = 0; i < runs; i++) {
    published.push(pub());
    bridgeBeside.push(net("bridge"));
  }
  console.error(`minid run --rm -p 80 busybox true: median ${median(published).toFixed(1)} ms over ${runs} runs`);
  const runc = series("runc run", (i) => time(["runc", "run", "-b", bundle, `minid-bench-runc-${process.pid}-${i + 10}`]));
  const inner = Bun.spawnSync(
    ["unshare", "-m", "sh", "-c", `umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$1" --crun-inner "$2" --runs "$3"`, process.execPath, import.meta.path, bundle, String(runs)],
    { stderr: "inherit" },
  );
  const crun: number[] = inner.exitCode === 0 ? JSON.parse(inner.stdout.toString()) : [];
  const m = median(minid);
  console.log(`minid run (bridge, the default): median ${m.toFixed(1)} ms`);
  console.log(`minid run --network none: median ${median(none).toFixed(1)} ms   bridge costs ${(m - median(none)).toFixed(1)} ms per container`);
  console.log(`minid run -p 80: median ${median(published).toFixed(1)} ms   publishing costs ${(median(published) - median(bridgeBeside)).toFixed(1)} ms per container`);
  console.log(`runc run:  median ${median(runc).toFixed(1)} ms   minid/runc = ${(m / median(runc)).toFixed(2)}`);
  if (crun.length) console.log(`crun run:  median ${median(crun).toFixed(1)} ms   minid/crun = ${(m / median(crun)).toFixed(2)}`);
  else console.log("crun run:  unavailable (crun missing or its cgroup2 set-up failed)");
} finally {
  // The store's default bridge and its rules go with it (they outlive containers, as docker0).
  dropNetworking(work);
  rmSync(work, { recursive: true, force: true });
}
