// Pull throughput: `minid pull` against `skopeo copy … oci:DIR` from the same local
// docker-registry, of the same image, measured in the same run. Prints medians and the ratio.
//   bun bench/pull.ts [--runs N] [--source] [--big-files]   (as root; builds dist/minid if missing)
// The image: the built-in busybox layer plus two layers made from this host's
// /usr/lib/python3.11 and /usr/share/perl (many small files, like real images), gzip.
// With --big-files instead: busybox plus two layers of 3 random 5 MB files each, which shows
// the cost of the download pipeline itself (few files to create, little to inflate).
// Like skopeo, `minid pull` downloads and verifies blobs; minid unpacks a layer once, when the
// first container needs it. So a second pair compares pull + the first `run` against the same
// work done with the Debian tools: skopeo copy, then `umoci unpack` into a rootfs.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { RegistryClient } from "../src/image/registry/client.ts";
import { OciLayout, busyboxLayer, layerFrom, pushLayout, startRegistry, tarOf, type Layer } from "../test/integration/registry-fixtures.ts";
import { BIN, REPO, median, dropNetworking } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 7;
const fromSource = args.includes("--source");
const MINID = fromSource ? [process.execPath, join(REPO, "src", "cli.ts")] : [BIN];
const DIRS = ["/usr/lib/python3.11", "/usr/share/perl"].filter(existsSync);
const bigFiles = args.includes("--big-files");
const randomLayer = (tag: string): Uint8Array => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 3; i++) files[`data/${tag}-${i}.bin`] = randomBytes(5 << 20).toString("latin1");
  return tarOf(files);
};


function tarDir(dir: string): Uint8Array {
  const r = Bun.spawnSync(["tar", "--numeric-owner", "--sort=name", "-C", "/", "-cf", "-", dir.replace(/^\//, "")], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar ${dir}: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

/**
 * minid's transport alone, in this process: every layer blob fetched with the registry client,
 * hashed and written to a file, 3 at a time (what `pull` does minus unpacking and start-up).
 */
async function fetchOnly(host: string, layers: Layer[], dir: string): Promise<number> {
  const t0 = performance.now();
  const client = new RegistryClient({ registry: host, repository: "bench/image" });
  const queue = [...layers];
  const worker = async () => {
    for (let l = queue.shift(); l; l = queue.shift()) {
      const r = client.openBlob(l.digest, l.blob.length);
      const h = createHash("sha256");
      const fd = openSync(join(dir, l.digest.slice(7)), "w");
      for (let c = await r.read(); c; c = await r.read()) {
        h.update(c);
        writeSync(fd, c);
      }
      closeSync(fd);
      if (`sha256:${h.digest("hex")}` !== l.digest) throw new Error("digest mismatch");
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return performance.now() - t0;
}

async function time(cmd: string[]): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  const dt = performance.now() - t0;
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${err}`);
  return dt;
}

if (process.getuid?.() !== 0) throw new Error("run as root");
if (!fromSource && !existsSync(BIN)) {
  const b = Bun.spawnSync([process.execPath, join(REPO, "build.ts")], { cwd: REPO, stdout: "inherit", stderr: "inherit" });
  if (b.exitCode !== 0) throw new Error("build failed");
}

const reg = await startRegistry();
const layout = new OciLayout();
const work = mkdtempSync(join(tmpdir(), "minid-bench-pull-"));
try {
  const layers: Layer[] = bigFiles
    ? [busyboxLayer(), layerFrom(randomLayer("a"), "gzip"), layerFrom(randomLayer("b"), "gzip")]
    : [busyboxLayer(), ...DIRS.map((d) => layerFrom(tarDir(d), "gzip"))];
  const compressed = layers.reduce((n, l) => n + l.blob.length, 0);
  layout.tag("1", layout.image({ layers }));
  const ref = `${reg.host}/bench/image:1`;
  pushLayout(layout, "1", ref);
  console.error(
    `image: ${layers.length} layers, ${(compressed / 1e6).toFixed(1)} MB compressed (${bigFiles ? "6 random 5 MB files" : DIRS.join(", ")} + busybox); ${runs} runs each, alternating`,
  );

  const minid: number[] = [];
  const minidRun: number[] = [];
  const skopeo: number[] = [];
  const unpack: number[] = [];
  const fetchOnlyMs: number[] = [];
  for (let i = -1; i < runs; i++) {
    // i = -1 is a warm-up of both (page cache, registry), not counted.
    const root = join(work, `root-${i}`);
    const oci = join(work, `oci-${i}`);
    const a = await time([...MINID, "--root", root, "pull", "-q", ref]);
    // pull stores verified blobs; the first container unpacks them (once): time that too.
    const a2 = await time([...MINID, "--root", root, "run", "--rm", ref, "true"]);
    const b = await time(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${oci}:x`]);
    rmSync(oci, { recursive: true, force: true });
    const c0 = await time(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${oci}:x`]);
    const c1 = await time(["umoci", "unpack", "--image", `${oci}:x`, join(work, `bundle-${i}`)]);
    dropNetworking(root);
    rmSync(root, { recursive: true, force: true });
    rmSync(oci, { recursive: true, force: true });
    rmSync(join(work, `bundle-${i}`), { recursive: true, force: true });
    const fdir = mkdtempSync(join(work, "fetch-"));
    const d = await fetchOnly(reg.host, layers, fdir);
    rmSync(fdir, { recursive: true, force: true });
    if (i >= 0) {
      minid.push(a);
      minidRun.push(a + a2);
      skopeo.push(b);
      unpack.push(c0 + c1);
      fetchOnlyMs.push(d);
    }
  }
  const mm = median(minid);
  const sm = median(skopeo);
  console.log(`minid pull:            median ${mm.toFixed(0)} ms  (runs: ${minid.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`skopeo copy to oci:    median ${sm.toFixed(0)} ms  (runs: ${skopeo.map((x) => x.toFixed(0)).join(" ")})`);
  const um = median(unpack);
  console.log(`skopeo copy + umoci unpack: median ${um.toFixed(0)} ms  (runs: ${unpack.map((x) => x.toFixed(0)).join(" ")})`);
  const fm = median(fetchOnlyMs);
  console.log(`minid client, blobs only (in-process, no unpack): median ${fm.toFixed(0)} ms  (runs: ${fetchOnlyMs.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`ratio minid/skopeo copy:            ${(mm / sm).toFixed(2)}  (target <= 1.2)`);
  console.log(`ratio minid blobs-only/skopeo copy: ${(fm / sm).toFixed(2)}`);
  const rm = median(minidRun);
  console.log(`minid pull + first run (unpacks): median ${rm.toFixed(0)} ms  (runs: ${minidRun.map((x) => x.toFixed(0)).join(" ")})`);
  console.log(`ratio (minid pull + first run)/(skopeo copy + umoci unpack): ${(rm / um).toFixed(2)}`);
} finally {
  await reg.stop();
  layout.remove();
  rmSync(work, { recursive: true, force: true });
}
