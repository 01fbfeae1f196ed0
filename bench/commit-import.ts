// Benchmark: `minid import` and `minid commit -o` of a ~200 MB tree of many small files,
// against GNU tar extracting and creating the same tree. Medians over several runs, ratios.
//
//   bun bench/commit-import.ts [--dir DIR] [--runs N] [--mb SIZE] [--bin PATH] [--keep]
//
// DIR defaults to a fresh directory under /var/tmp (disk). Pass --dir /dev/shm to take the
// disk out of the comparison. Every timed run starts after `sync` so one run's writeback does
// not land in the next one's time. Needs root (commit runs a container).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { dropNetworking } from "./lib.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : def;
};
const RUNS = Number(opt("runs", "5"));
const MB = Number(opt("mb", "200"));
const BIN = resolve(opt("bin", join(import.meta.dir, "..", "dist", "minid")));
const base = mkdtempSync(join(opt("dir", "/var/tmp"), "minid-bench-commit-"));
const keep = argv.includes("--keep");

function run(cmd: string[], quiet = true): void {
  const r = Bun.spawnSync(cmd, { stdout: quiet ? "ignore" : "inherit", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
}

function timed(cmd: string[]): number {
  Bun.spawnSync(["sync"]);
  const t0 = performance.now();
  run(cmd);
  return (performance.now() - t0) / 1000;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Deterministic shape, random content: 200 dirs, files of 200 B to 13 kB. */
function makeTree(dir: string, bytes: number): { files: number; bytes: number } {
  let total = 0;
  let files = 0;
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
  for (let d = 0; total < bytes; d++) {
    const sub = join(dir, `d${String(d).padStart(3, "0")}`, `sub${d % 7}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 150 && total < bytes; f++) {
      const size = 200 + Math.floor(rnd() * 12800);
      writeFileSync(join(sub, `f${String(f).padStart(4, "0")}.dat`), randomBytes(size));
      total += size;
      files++;
    }
  }
  return { files, bytes: total };
}

const tree = join(base, "tree");
const treeTar = join(base, "tree.tar");
const root = join(base, "root");
const minid = (...a: string[]) => [BIN, "--root", root, ...a];
try {
  const shape = makeTree(tree, MB * 1e6);
  run(["tar", "-cf", treeTar, "-C", tree, "."]);
  console.error(`tree: ${shape.files} files, ${(shape.bytes / 1e6).toFixed(0)} MB of content in ${base}`);

  // GNU tar extract vs minid import
  const tarX: number[] = [];
  const imp: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dest = join(base, `x${i}`);
    mkdirSync(dest);
    tarX.push(timed(["tar", "--numeric-owner", "-xpf", treeTar, "-C", dest]));
    rmSync(dest, { recursive: true, force: true });
    imp.push(timed(minid("import", treeTar, `bench:import${i}`)));
    run(minid("rmi", `bench:import${i}`));
  }

  // GNU tar create vs minid commit -o, over the same tree as a container's upper layer
  run(minid("run", "--name", "bench", "busybox", "true"));
  const id = Bun.spawnSync(minid("ps", "-a", "-q", "--no-trunc", "-f", "name=^bench$")).stdout.toString().trim();
  const upper = join(root, "containers", id, "upper");
  cpSync(tree, upper, { recursive: true });
  const tarC: number[] = [];
  const commit: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = join(base, `c${i}.tar`);
    tarC.push(timed(["tar", "--numeric-owner", "-cf", a, "-C", upper, "."]));
    rmSync(a, { force: true });
    const b = join(base, `m${i}.tar`);
    commit.push(timed(minid("commit", "-o", b, "bench", `bench:commit${i}`)));
    rmSync(b, { force: true });
    run(minid("rmi", `bench:commit${i}`));
  }
  run(minid("rm", "bench"));

  const rows = [
    { what: "import vs tar -x", minid: median(imp), tar: median(tarX) },
    { what: "commit -o vs tar -c", minid: median(commit), tar: median(tarC) },
  ];
  console.log(`runs=${RUNS} dir=${base} files=${shape.files} MB=${(shape.bytes / 1e6).toFixed(0)}`);
  console.log("benchmark              minid (s)   GNU tar (s)   ratio");
  for (const r of rows) {
    console.log(`${r.what.padEnd(22)} ${r.minid.toFixed(2).padStart(9)}   ${r.tar.toFixed(2).padStart(11)}   ${(r.minid / r.tar).toFixed(2).padStart(5)}`);
  }
  console.log(JSON.stringify({ runs: RUNS, files: shape.files, bytes: shape.bytes, import: imp, tarExtract: tarX, commit, tarCreate: tarC }));
} finally {
  dropNetworking(base);
  if (!keep) rmSync(base, { recursive: true, force: true });
}
