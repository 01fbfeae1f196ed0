// Start time against the image's size: `run --rm IMAGE true` of a 1 GB / 100,000-file image
// (busybox plus /data) against the same run of busybox itself (2 MB, ~400 entries), both on
// one root, round by round so load hits both alike. The goal is a ratio of 1: a container's
// root is an overlay over the unpacked layer, so nothing at start should scale with the files.
// The first run after the import is reported apart (the layer is unpacked by import).
//   bun bench/bigimage.ts [--runs N] [--files N] [--mb N] [--dir DIR] [--keep]
// DIR defaults to /dev/shm (the disk of a shared machine would measure the others); the tree,
// its tar, the blob and the unpacked layer take about 3x the size there.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, REPO, benchPreconditions, median, timeCommand, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (n: string, d: string) => (args.indexOf(`--${n}`) >= 0 ? args[args.indexOf(`--${n}`) + 1]! : d);
const RUNS = Number(opt("runs", "20"));
const FILES = Number(opt("files", "100000"));
const MB = Number(opt("mb", "1000"));
const DIR = opt("dir", existsSync("/dev/shm") ? "/dev/shm" : "/var/tmp");
benchPreconditions("bench/bigimage.ts");

const work = mkdtempSync(join(DIR, "minid-bench-big-"));
const root = join(work, "root");
const minid = (...a: string[]) => {
  const r = Bun.spawnSync([BIN, "--root", root, ...a], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`minid ${a.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
};
try {
  // busybox's own rootfs (for /bin/true), then FILES files of MB/FILES bytes each under /data.
  const tree = join(work, "tree");
  mkdirSync(tree);
  if (Bun.spawnSync(["tar", "--numeric-owner", "-xzf", join(REPO, "images", "build", "busybox.tar.gz"), "-C", tree]).exitCode !== 0) {
    throw new Error("cannot unpack images/build/busybox.tar.gz (run bun build.ts first)");
  }
  const size = Math.floor((MB * 1e6) / FILES);
  const body = Buffer.alloc(size, 0x61);
  const t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    const d = join(tree, "data", `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    body.writeUInt32LE(i, 0); // distinct content, so nothing is deduplicated anywhere
    writeFileSync(join(d, `f${i % 100}`), body);
  }
  const tar = join(work, "big.tar");
  if (Bun.spawnSync(["tar", "--numeric-owner", "-cf", tar, "-C", tree, "."]).exitCode !== 0) throw new Error("tar -c failed");
  rmSync(tree, { recursive: true, force: true });
  console.error(`image tree: ${FILES} files of ${size} B under /data + busybox, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  minid("run", "--rm", "--network", "none", "busybox", "true"); // the built-in image, stored
  const ti = performance.now();
  minid("import", "-c", "CMD [\"sh\"]", tar, "bench-big:1");
  const importMs = performance.now() - ti;
  rmSync(tar, { force: true });
  const run = (image: string) => timeCommand([BIN, "--root", root, "run", "--rm", "--network", "none", image, "true"]);
  const first = run("bench-big:1");
  // Entries the container sees: checked from inside, so the big image really is the one run.
  const seen = minid("run", "--rm", "--network", "none", "bench-big:1", "sh", "-c", "ls /data | wc -l").trim();
  if (Number(seen) !== Math.ceil(FILES / 100)) throw new Error(`the big image's /data holds ${seen} directories, not ${Math.ceil(FILES / 100)}`);

  const big: number[] = [];
  const small: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const pair = i % 2 ? [["big", "bench-big:1"], ["small", "busybox"]] : [["small", "busybox"], ["big", "bench-big:1"]];
    for (const [k, image] of pair) {
      const t = run(image!);
      if (i >= 2) (k === "big" ? big : small).push(t);
    }
  }
  const mb = median(big), ms = median(small);
  console.log(`import of the ${MB} MB / ${FILES}-file tar: ${(importMs / 1000).toFixed(1)} s; first run after it: ${first.toFixed(1)} ms`);
  console.log(`run --rm (1 GB image): median ${mb.toFixed(1)} ms   run --rm busybox: median ${ms.toFixed(1)} ms   ratio ${(mb / ms).toFixed(2)}   (goal 1.0)`);
  console.log(JSON.stringify({ runs: RUNS, files: FILES, mb: MB, importMs, firstMs: first, big: mb, busybox: ms }));
} finally {
  if (!args.includes("--keep")) {
    Bun.spawnSync([BIN, "--root", root, "rm", "-f", ...minidIds()], { stdout: "ignore", stderr: "ignore" });
    dropNetworking(work);
    rmSync(work, { recursive: true, force: true });
  } else console.error(`kept: ${work}`);
}

function minidIds(): string[] {
  const r = Bun.spawnSync([BIN, "--root", root, "ps", "-aq"], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().split("\n").filter(Boolean);
}
