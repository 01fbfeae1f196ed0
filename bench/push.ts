// Push throughput: `minid push` of an image whose top layer is stored uncompressed (a commit of
// ~70 MB of text and 20 MB of random bytes), so minid compresses it, against `skopeo copy` of
// the same image from a docker-archive (`minid save`) with the same compression, to the same
// local docker-registry, in the same run. Every run pushes to a fresh registry (nothing to
// skip or mount, and skopeo's blob cache cannot reuse digests). Then a second `minid push` of
// the same image: the remembered digests make it HEAD requests only.
//   bun bench/push.ts [--runs N]   (as root; builds dist/minid if missing)
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { startRegistry } from "../test/integration/registry-fixtures.ts";
import { BIN, benchPreconditions, median, timeCommand, dropNetworking } from "./lib.ts";

benchPreconditions("bench/push.ts");
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 5;
const root = mkdtempSync(join(tmpdir(), "minid-bench-push-"));
const minid = (a: string[]) => [BIN, "--root", root, ...a];

try {
  timeCommand(minid(["run", "--name", "big", "busybox", "sh", "-c", "seq 1 8000000 > /seq; head -c 20000000 /dev/urandom > /rand"]));
  timeCommand(minid(["commit", "big", "big:1"]));
  timeCommand(minid(["rm", "big"]));
  const archive = join(root, "big.tar");
  timeCommand(minid(["save", "-o", archive, "big:1"]));
  const rows: Record<string, number[]> = {};
  const add = (k: string, v: number) => (rows[k] ??= []).push(v);
  for (let i = 0; i < runs; i++) {
    for (const fmt of ["gzip", "zstd"] as const) {
      const reg = await startRegistry();
      try {
        const ref = `${reg.host}/bench/big:${fmt}`;
        timeCommand(minid(["tag", "big:1", ref]));
        // forget what an earlier run pushed: every run compresses again
        Bun.spawnSync(["sh", "-c", `rm -f ${root}/image/layers/*/pushed.json`]);
        add(`minid push (${fmt})`, timeCommand(minid(["push", "-q", "--compression-format", fmt, ref])));
        add(`minid push again (${fmt})`, timeCommand(minid(["push", "-q", "--compression-format", fmt, ref])));
        add(
          `skopeo copy (${fmt})`,
          timeCommand(["skopeo", "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false", "--dest-compress-format", fmt, `docker-archive:${archive}`, `docker://${reg.host}/skopeo/big:${fmt}`]),
        );
        timeCommand(minid(["rmi", ref]));
      } finally {
        await reg.stop();
      }
    }
  }
  console.log(`push of busybox + a 89 MB uncompressed layer, ${runs} runs, medians:`);
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(26)} ${median(v).toFixed(0).padStart(6)} ms`);
  for (const fmt of ["gzip", "zstd"]) {
    console.log(`  minid/skopeo (${fmt}): ${(median(rows[`minid push (${fmt})`]!) / median(rows[`skopeo copy (${fmt})`]!)).toFixed(2)}x`);
  }
} finally {
  Bun.spawnSync(minid(["rm", "-f", "big"]), { stdout: "ignore", stderr: "ignore" });
  dropNetworking(root); // the default bridge and its rules outlive the containers
  rmSync(root, { recursive: true, force: true });
}
