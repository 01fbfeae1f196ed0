// Benchmark: `minid-runtime run` of a bundle running /bin/true, against runc and crun on the
// same bundle in the same run (the like-for-like comparison with the OCI runtimes; `minid run`
// has bench/run.ts). crun refuses this project's hybrid cgroups, so it runs as design.md
// says: in a mount namespace with cgroup2 over /sys/fs/cgroup, --cgroup-manager=disabled,
// the config without cgroupsPath. Medians and ratios to runc.
//
//   bun bench/runtime.ts [--runs N] [--bin PATH] [--userns]
//
// --userns: every runtime runs the bundle in a new user namespace (uid/gid 0 → 100000, 65536
// ids), the case minid's runtime makes by a clone from its own fork.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { benchPreconditions, median, timeCommand } from "./lib.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : def;
};
const RUNS = Number(opt("runs", "20"));
const USERNS = argv.includes("--userns");
const BIN = resolve(opt("bin", join(import.meta.dir, "..", "dist", "minid")));
benchPreconditions("bench/runtime.ts");
const RUNTIME = join(BIN, "..", "minid-runtime");
if (!existsSync(RUNTIME)) symlinkSync("minid", RUNTIME);

const base = mkdtempSync(join("/var/tmp", "minid-bench-runtime-"));
const bundle = join(base, "bundle");
const rootfs = join(bundle, "rootfs");
for (const d of ["bin", "proc", "sys", "dev", "tmp", "etc"]) mkdirSync(join(rootfs, d), { recursive: true });
cpSync("/bin/busybox", join(rootfs, "bin", "busybox"));
for (const a of ["true", "sh"]) symlinkSync("busybox", join(rootfs, "bin", a));

Bun.spawnSync([RUNTIME, "spec", "--bundle", bundle]);
const config = JSON.parse(await Bun.file(join(bundle, "config.json")).text());
config.process.terminal = false;
config.process.args = ["/bin/true"];
config.root.readonly = false;
if (USERNS) {
  // The mapped root must be able to reach the rootfs.
  Bun.spawnSync(["chmod", "0711", base]);
  config.linux.namespaces.push({ type: "user" });
  config.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  config.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
}
writeFileSync(join(bundle, "config.json"), JSON.stringify(config));
const crunBundle = join(base, "crun-bundle");
mkdirSync(crunBundle);
symlinkSync(rootfs, join(crunBundle, "rootfs"));
writeFileSync(join(crunBundle, "config.json"), JSON.stringify({ ...config, mounts: config.mounts.filter((m: any) => m.type !== "cgroup") }));

const peers: { name: string; cmd: (i: number) => string[]; available: boolean }[] = [
  { name: "minid-runtime", cmd: (i) => [RUNTIME, "--root", join(base, "state-minid"), "run", "--bundle", bundle, `b${i}`], available: true },
  { name: "runc", cmd: (i) => ["runc", "--root", join(base, "state-runc"), "run", "--bundle", bundle, `b${i}`], available: Bun.which("runc") !== null },
  {
    name: "crun",
    cmd: (i) => ["unshare", "-m", "sh", "-c", `umount -l /sys/fs/cgroup; mount -t cgroup2 none /sys/fs/cgroup; exec crun --cgroup-manager=disabled --root '${join(base, "state-crun")}' run --bundle '${crunBundle}' c${i}`],
    available: Bun.which("crun") !== null,
  },
];

const times = new Map<string, number[]>(peers.map((p) => [p.name, []]));
try {
  // Interleaved, one warm-up each, so load on the machine hits every runtime alike.
  for (let i = -1; i < RUNS; i++) {
    for (const p of peers) {
      if (!p.available) continue;
      const t = timeCommand(p.cmd(i + 1000));
      if (i >= 0) times.get(p.name)!.push(t);
    }
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}

const runc = times.get("runc")!.length ? median(times.get("runc")!) : NaN;
console.log(`OCI runtime run of /bin/true${USERNS ? " in a new user namespace" : ""}, ${RUNS} runs each (median ms, ratio to runc)`);
for (const p of peers) {
  const t = times.get(p.name)!;
  if (!t.length) {
    console.log(`${p.name.padEnd(14)} not installed`);
    continue;
  }
  const m = median(t);
  console.log(`${p.name.padEnd(14)} ${m.toFixed(1).padStart(7)} ms   ${(m / runc).toFixed(2)}x`);
}
