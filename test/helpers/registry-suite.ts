// The shared setup of the registry feature files (pull, push, registry-auth, registry-failures,
// insecure-registry): Debian's docker-registry on a loopback port, filled by skopeo from
// hand-written OCI layouts, once per file; minid run asynchronously (the proxies live in this
// process); and the store snapshots the failure tests compare.
import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ensureBuilt, isRoot, minidCommand, removeAllContainers } from "./minid.ts";
import { requires } from "./requires.ts";
import {
  OciLayout,
  busyboxLayer,
  haveTools,
  layerFrom,
  pushLayout,
  startRegistry,
  tarOf,
  type Layer,
  type Proxy,
  type Registry,
} from "../integration/registry-fixtures.ts";

export const enabled = isRoot() && haveTools();
export const T = 120_000;
/** Tests here spawn many processes: give each its own generous timeout. Under CI a missing
 *  docker-registry or skopeo fails every test (requires()); elsewhere they are skipped. */
const gate = requires("root", "docker-registry", "skopeo");
export const it = (name: string, fn: () => Promise<void> | void) => gate(name, fn, T);

export interface Res {
  code: number;
  stdout: string;
  stderr: string;
}

const roots: string[] = [];
export function newRoot(label: string): string {
  const d = mkdtempSync(join(tmpdir(), `minid-test-reg-${label}-`));
  roots.push(d);
  return d;
}

export async function minid(root: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Res> {
  const p = Bun.spawn([...minidCommand(), "--root", root, ...args], {
    stdin: opts.input !== undefined ? new Blob([opts.input]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MINID_REGISTRY_BACKOFF_MS: "50", ...opts.env },
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), 90_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Every file under <root>/image (path, size, mode), for "the store is unchanged" checks. */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (rel === "tmp" && n.startsWith("pin-")) continue; // pins of finished runs, swept later
      out.push(`${rel}/${n} ${st.isDirectory() ? "d" : st.size} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p, rel ? `${rel}/${n}` : n);
    }
  };
  walk(join(root, "image"), "");
  return out.filter((l) => !l.startsWith("/lock ") && !l.startsWith("/builtin.lock "));
}

export function scratchLeft(root: string): string[] {
  const d = join(root, "image", "tmp");
  return existsSync(d) ? readdirSync(d).filter((n) => !n.startsWith("pin-")) : [];
}

export function imageJson(root: string, id: string) {
  return JSON.parse(readFileSync(join(root, "image", "images", `${id.slice(7)}.json`), "utf8"));
}

/** path → type/mode/size/link of a tree, to compare two extractions. */
export function tree(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const r = `${rel}/${n}`;
      const st = lstatSync(p);
      const kind = st.isSymbolicLink() ? `l->${readlinkSync(p)}` : st.isDirectory() ? "d" : st.isFile() ? `f${st.size}` : "other";
      m.set(r, `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(dir, "");
  return m;
}

export interface Fixture {
  reg: Registry;
  layout: OciLayout;
  L: { busybox: Layer; hello: Layer; helloGz: Layer; whiteout: Layer; dockerExtra: Layer };
  img1: { digest: string; config: string };
  multiDigest: string;
}

/**
 * Start the registry and push the test images in beforeAll, hand them to `got`; in afterAll stop
 * every proxy, the registry, and remove the roots (no container may be left). Returns the
 * per-file lists of proxies and roots and newRoot() adding to the latter.
 */
export function useRegistry(got: (f: Fixture) => void) {
  const roots: string[] = [];
  const proxies: Proxy[] = [];
  let reg: Registry | undefined;
  let layout: OciLayout | undefined;
  function newRoot(label: string): string {
    const d = mkdtempSync(join(tmpdir(), `minid-test-reg-${label}-`));
    roots.push(d);
    return d;
  }
  beforeAll(async () => {
    if (!enabled) return;
    if (process.env.MINID_TEST_SOURCE !== "1") ensureBuilt();
    const r = await startRegistry();
    reg = r;
    const lay = new OciLayout();
    layout = lay;
    const L = {
      busybox: busyboxLayer(),
      hello: layerFrom(tarOf({ "etc/hello": "hi\n", "opt/dir/file": "x" }), "zstd"),
      helloGz: layerFrom(tarOf({ "etc/hello": "hi\n", "opt/dir/file": "x" }), "gzip"),
      whiteout: layerFrom(tarOf({ "bin/.wh.vi": "", "opt/.wh.dir": "", "opt/new": "new\n" }), "gzip"),
      dockerExtra: layerFrom(tarOf({ "etc/docker-format": "yes\n" }), "gzip"),
    };
    const one = lay.image({ layers: [L.busybox, L.hello, L.whiteout], cmd: ["sh"] });
    lay.tag("1", one);
    pushLayout(lay, "1", `${r.host}/test/busybox:1`);
    const img1 = { digest: one.digest, config: JSON.parse(readFileSync(join(lay.dir, "blobs", "sha256", one.digest.slice(7)), "utf8")).config.digest };

    const arm = lay.image({ layers: [L.busybox], arch: "arm64" });
    const multi = lay.multi([{ ...arm, platform: { os: "linux", architecture: "arm64", variant: "v8" } }, one]);
    const multiDigest = multi.digest;
    lay.tag("multi", multi);
    pushLayout(lay, "multi", `${r.host}/test/busybox:multi`);
    lay.tag("armonly", lay.multi([arm]));
    pushLayout(lay, "armonly", `${r.host}/test/busybox:armonly`);

    // umoci (0.4) cannot unpack zstd: the push test compares trees of this gzip-only twin.
    lay.tag("gz", lay.image({ layers: [L.busybox, L.helloGz, L.whiteout], cmd: ["sh"] }));
    pushLayout(lay, "gz", `${r.host}/test/gz:1`);

    const dockerImg = lay.image({ layers: [L.busybox, L.dockerExtra] });
    lay.tag("docker", dockerImg);
    pushLayout(lay, "docker", `${r.host}/test/dockerfmt:1`, ["--format", "v2s2"]);
    got({ reg: r, layout: lay, L, img1, multiDigest });
  }, 180_000);
  afterAll(async () => {
    for (const p of proxies) p.stop();
    await reg?.stop();
    layout?.remove();
    const leftover = roots.flatMap((r) => removeAllContainers(r));
    for (const r of roots) rmSync(r, { recursive: true, force: true });
    expect(leftover).toEqual([]);
  }, 30_000);
  return { proxies, roots, newRoot };
}
