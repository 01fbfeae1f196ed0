// Listing at scale: `ps -a` with 1,000 containers and `images` with 500 images, against the
// goal of 100 ms each. Fixtures are made fast: one real exited container and one real
// committed image, then their records are copied under new ids and names (the store is
// plain directories of JSON documents, so a copy is a valid record); one real `run` at the
// end checks the store still works with all of them.
//   bun bench/scale.ts [--containers N] [--images N] [--runs N]
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { BIN, benchPreconditions, median, timeCommand, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const opt = (n: string, d: number) => (args.indexOf(n) >= 0 ? Number(args[args.indexOf(n) + 1]) : d);
const NC = opt("--containers", 1000);
const NI = opt("--images", 500);
const RUNS = opt("--runs", 15);
benchPreconditions("bench/scale.ts");
const root = mkdtempSync(join("/var/tmp", "minid-bench-scale-"));
const minid = (...a: string[]) => {
  const r = Bun.spawnSync([BIN, "--root", root, ...a], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`minid ${a.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
};
/**
 * `n` more images like `tag`'s: its config with a distinct comment (so a distinct digest, the
 * image id) stored as a blob, an image record naming it and the same layers, and a tag each.
 */
function copyImages(store: string, tag: string, n: number): number {
  const tags = JSON.parse(readFileSync(join(store, "repositories.json"), "utf8")) as Record<string, string>;
  const seed = tags[tag]!.slice(7);
  const record = JSON.parse(readFileSync(join(store, "images", `${seed}.json`), "utf8"));
  const config = JSON.parse(readFileSync(join(store, "blobs", "sha256", seed), "utf8"));
  for (let i = 0; i < n; i++) {
    const raw = JSON.stringify({ ...config, comment: `bench copy ${i}` });
    const hex = createHash("sha256").update(raw).digest("hex");
    writeFileSync(join(store, "blobs", "sha256", hex), raw);
    writeFileSync(join(store, "images", `${hex}.json`), JSON.stringify({ ...record, id: `sha256:${hex}`, configDigest: `sha256:${hex}` }, null, 2));
    tags[`bench/copy${i % 50}:v${i}`] = `sha256:${hex}`;
  }
  writeFileSync(join(store, "repositories.json"), JSON.stringify(tags, null, 2));
  return n;
}

try {
  const t0 = performance.now();
  minid("run", "--name", "seed", "busybox", "true");
  const cdir = join(root, "containers");
  const seedId = readdirSync(cdir).find((n) => /^[a-f0-9]{64}$/.test(n))!;
  const seedState = readFileSync(join(cdir, seedId, "state.json"), "utf8");
  for (let i = 0; i < NC - 1; i++) {
    const id = randomBytes(32).toString("hex");
    const tmp = join(cdir, `.creating-bench-${i}`);
    // Only what a record is made of (copying the layer directories would take minutes).
    mkdirSync(tmp);
    for (const f of readdirSync(join(cdir, seedId), { withFileTypes: true })) {
      if (f.isFile() && f.name !== `${seedId}-json.log`) copyFileSync(join(cdir, seedId, f.name), join(tmp, f.name));
      else if (f.isDirectory()) mkdirSync(join(tmp, f.name));
    }
    writeFileSync(join(tmp, `${id}-json.log`), "");
    const st = JSON.parse(seedState);
    st.id = id;
    st.name = `c${i}`;
    st.config.hostname = id.slice(0, 12);
    delete st.cgroupPaths;
    writeFileSync(join(tmp, "state.json"), JSON.stringify(st));
    renameSync(tmp, join(cdir, id));
  }
  // Images: one real commit, then its image record copied under new ids and tags.
  minid("commit", "seed", "bench/seed:0");
  const listed = minid("images", "--no-trunc", "--format", "{{.ID}}").trim().split("\n");
  const imageStore = join(root, "image");
  console.error(`fixtures: ${NC} containers, base images ${listed.length}, in ${((performance.now() - t0) / 1000).toFixed(1)} s; image store: ${readdirSync(imageStore).join(" ")}`);
  let imgs = listed.length;
  imgs += copyImages(imageStore, "bench/seed:0", NI - imgs);
  if (args.includes("--keep")) console.error(`root kept: ${root}`);
  const ps = RUNS ? Array.from({ length: RUNS }, () => timeCommand([BIN, "--root", root, "ps", "-a"])) : [];
  const images = Array.from({ length: RUNS }, () => timeCommand([BIN, "--root", root, "images"]));
  const n = minid("ps", "-aq").trim().split("\n").length;
  const ni = minid("images", "-q").trim().split("\n").length;
  console.log(`ps -a (${n} containers):   median ${median(ps).toFixed(1)} ms   (goal < 100 ms)`);
  console.log(`images (${ni} images):     median ${median(images).toFixed(1)} ms   (goal < 100 ms)`);
  minid("run", "--rm", "busybox", "true");
  // Commands that name one container (exec, logs, inspect, stop…) should not read every
  // record: exec into one of them against exec into a store that holds only it. The run
  // above was a create, which (re)built the names index the copied records lacked.
  minid("run", "-d", "--name", "live", "--network", "none", "busybox", "sleep", "600");
  const lone = mkdtempSync(join("/var/tmp", "minid-bench-scale-lone-"));
  try {
    Bun.spawnSync([BIN, "--root", lone, "run", "-d", "--name", "live", "--network", "none", "busybox", "sleep", "600"], { stdout: "ignore" });
    const many: number[] = [];
    const one: number[] = [];
    for (let i = 0; i < Math.max(RUNS, 5); i++) {
      many.push(timeCommand([BIN, "--root", root, "exec", "live", "true"]));
      one.push(timeCommand([BIN, "--root", lone, "exec", "live", "true"]));
    }
    console.log(`exec live true (${n + 1} containers): median ${median(many).toFixed(1)} ms   alone in its store: ${median(one).toFixed(1)} ms   ratio ${(median(many) / median(one)).toFixed(2)}`);
  } finally {
    Bun.spawnSync([BIN, "--root", lone, "rm", "-f", "live"], { stdout: "ignore", stderr: "ignore" });
    dropNetworking(lone);
    rmSync(lone, { recursive: true, force: true });
  }
} finally {
  if (!args.includes("--keep")) {
    Bun.spawnSync([BIN, "--root", root, "rm", "-f", "seed", "live"], { stdout: "ignore", stderr: "ignore" });
    dropNetworking(root); // the default bridge and its rules outlive the containers
    rmSync(root, { recursive: true, force: true });
  }
}
