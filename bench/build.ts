// Benchmark: `minid build` of a 10-step Dockerfile (COPY of a ~50 MB / 5,000-file context and
// a few RUNs) cold (--no-cache) and fully cached, against `docker build` (Debian's docker.io
// daemon, started here with its own data root and stopped after; classic builder, offline)
// and `podman build` on the same context and the same busybox (loaded from `minid save`)
// when they run here. Medians, ratios.
//
//   bun bench/build.ts [--runs N] [--mb SIZE] [--files N] [--bin PATH] [--keep]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { benchPreconditions, median, dropNetworking } from "./lib.ts";
import { haveDockerd, startDockerd } from "../test/helpers/dockerd.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : def;
};
const RUNS = Number(opt("runs", "5"));
const MB = Number(opt("mb", "50"));
const FILES = Number(opt("files", "5000"));
const BIN = resolve(opt("bin", join(import.meta.dir, "..", "dist", "minid")));
benchPreconditions("bench/build.ts");
const base = mkdtempSync(join("/var/tmp", "minid-bench-build-"));

function sh(cmd: string[], input?: Uint8Array): Buffer {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", stdin: input ?? "ignore" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
  return r.stdout;
}

function timed(cmd: string[]): number {
  Bun.spawnSync(["sync"]);
  const t0 = performance.now();
  sh(cmd);
  return performance.now() - t0;
}

// The context: FILES files in 50 directories, MB in total, random (incompressible) content.
const ctx = join(base, "context");
const per = Math.floor((MB * 1024 * 1024) / FILES);
for (let i = 0; i < FILES; i++) {
  const d = join(ctx, "src", `d${i % 50}`);
  if (i < 50) mkdirSync(d, { recursive: true });
  writeFileSync(join(d, `f${i}.bin`), randomBytes(per));
}
writeFileSync(
  join(ctx, "Dockerfile"),
  [
    "FROM busybox",
    "ENV APP=/app",
    "WORKDIR /app",
    "COPY src/ /app/src/",
    "RUN find /app/src -type f | wc -l > /app/count",
    "RUN echo built > /app/stamp && mkdir -p /app/out",
    'LABEL bench="minid"',
    "RUN du -s /app/src > /app/out/du",
    "EXPOSE 8080",
    'CMD ["cat", "/app/count"]',
  ].join("\n") + "\n",
);

const results: Record<string, { cold: number[]; cached: number[] }> = {};

// minid: busybox imported before timing (its first use imports the built-in image).
const mroot = join(base, "minid-root");
sh([BIN, "--root", mroot, "run", "--rm", "busybox", "true"]);
results.minid = { cold: [], cached: [] };
for (let i = 0; i < RUNS; i++) {
  results.minid.cold.push(timed([BIN, "--root", mroot, "build", "--no-cache", "-q", "-t", "bench", ctx]));
  results.minid.cached.push(timed([BIN, "--root", mroot, "build", "-q", "-t", "bench", ctx]));
}

// podman, with its own storage, the same busybox, no network.
let podmanNote = "";
const hasPodman = Bun.spawnSync(["sh", "-c", "command -v podman"]).exitCode === 0;
if (hasPodman) {
  const proot = join(base, "podman-root");
  const prun = join(base, "podman-run");
  // crun refuses this host's hybrid cgroups; runc (when installed) runs.
  const runc = Bun.spawnSync(["sh", "-c", "command -v runc"]).exitCode === 0 ? ["--runtime", "runc"] : [];
  const podman = ["podman", "--root", proot, "--runroot", prun, "--storage-driver", "overlay", ...runc];
  try {
    const tar = sh([BIN, "--root", mroot, "save", "busybox:latest"]);
    sh([...podman, "load"], tar);
    sh([...podman, "tag", "busybox:latest", "docker.io/library/busybox:latest"]);
    results.podman = { cold: [], cached: [] };
    for (let i = 0; i < RUNS; i++) {
      results.podman.cold.push(timed([...podman, "build", "--network", "none", "--pull=never", "--no-cache", "-q", "-t", "bench", ctx]));
      results.podman.cached.push(timed([...podman, "build", "--network", "none", "--pull=never", "-q", "-t", "bench", ctx]));
    }
  } catch (e) {
    delete results.podman;
    podmanNote = `podman build did not run here: ${(e as Error).message.split("\n").slice(0, 3).join(" ")}`;
  } finally {
    Bun.spawnSync([...podman, "system", "reset", "-f"], { stdout: "ignore", stderr: "ignore" });
  }
} else podmanNote = "podman is not installed";

// docker: a private daemon, the same busybox, the classic builder (BuildKit would try to
// reach Docker Hub for the FROM image's metadata; there is no network here).
let dockerNote = "";
if (haveDockerd()) {
  let d: Awaited<ReturnType<typeof startDockerd>> | undefined;
  try {
    d = await startDockerd();
    await d.loadMinidImage(BIN, mroot);
    const cli = ["/usr/bin/docker", "-H", d.host];
    const env = { ...process.env, DOCKER_BUILDKIT: "0", DOCKER_CONFIG: join(d.dir, "cli") };
    const timedEnv = (cmd: string[]) => {
      Bun.spawnSync(["sync"]);
      const t0 = performance.now();
      const r = Bun.spawnSync(cmd, { env, stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString().slice(-500)}`);
      return performance.now() - t0;
    };
    results.docker = { cold: [], cached: [] };
    for (let i = 0; i < RUNS; i++) {
      results.docker.cold.push(timedEnv([...cli, "build", "--network", "none", "--no-cache", "-q", "-t", "bench", ctx]));
      results.docker.cached.push(timedEnv([...cli, "build", "--network", "none", "-q", "-t", "bench", ctx]));
    }
  } catch (e) {
    delete results.docker;
    dockerNote = `docker build did not run here: ${(e as Error).message.split("\n").slice(0, 3).join(" ")}`;
  } finally {
    await d?.stop();
  }
} else dockerNote = "docker.io (dockerd) is not installed";

console.log(`build: 10-step Dockerfile, context ${FILES} files / ${MB} MB, ${RUNS} runs each (median ms)`);
for (const [name, r] of Object.entries(results)) {
  console.log(`  ${name.padEnd(7)} cold ${median(r.cold).toFixed(0).padStart(6)} ms   cached ${median(r.cached).toFixed(0).padStart(6)} ms`);
}
if (results.podman) {
  const m = results.minid, p = results.podman;
  console.log(`  ratio minid/podman: cold ${(median(m.cold) / median(p.cold)).toFixed(2)}, cached ${(median(m.cached) / median(p.cached)).toFixed(2)}`);
}
if (results.docker) {
  const m = results.minid, p = results.docker;
  console.log(`  ratio minid/docker: cold ${(median(m.cold) / median(p.cold)).toFixed(2)}, cached ${(median(m.cached) / median(p.cached)).toFixed(2)}`);
}
if (podmanNote) console.log(`  ${podmanNote}`);
if (dockerNote) console.log(`  ${dockerNote}`);
dropNetworking(base);
if (!argv.includes("--keep")) rmSync(base, { recursive: true, force: true });
else console.log(`  kept ${base}`);
