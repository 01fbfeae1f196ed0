// pull/push/login against Debian's docker-registry on a loopback port, with images put there by
// skopeo from hand-written OCI layouts, and Bun.serve proxies for token auth and failures.
// Every minid call is async (Bun.spawn): the proxies live in this process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { networkInterfaces, tmpdir } from "node:os";
import { ensureBuilt, isRoot, minidCommand, removeAllContainers } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { createHash } from "node:crypto";
import {
  OciLayout,
  busyboxLayer,
  haveTools,
  layerFrom,
  pushLayout,
  skopeo,
  startProxy,
  startRegistry,
  tarOf,
  type Layer,
  type Proxy,
  type Registry,
  freePort,
} from "./registry-fixtures.ts";

const enabled = isRoot() && haveTools();
const T = 120_000;
/** Tests here spawn many processes: give each its own generous timeout. Under CI a missing
 *  docker-registry or skopeo fails every test (requires()); elsewhere they are skipped. */
const gate = requires("root", "docker-registry", "skopeo");
const it = (name: string, fn: () => Promise<void> | void) => gate(name, fn, T);

interface Res {
  code: number;
  stdout: string;
  stderr: string;
}

const roots: string[] = [];
function newRoot(label: string): string {
  const d = mkdtempSync(join(tmpdir(), `minid-test-reg-${label}-`));
  roots.push(d);
  return d;
}

async function minid(root: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Res> {
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
function snapshot(root: string): string[] {
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

function scratchLeft(root: string): string[] {
  const d = join(root, "image", "tmp");
  return existsSync(d) ? readdirSync(d).filter((n) => !n.startsWith("pin-")) : [];
}

function imageJson(root: string, id: string) {
  return JSON.parse(readFileSync(join(root, "image", "images", `${id.slice(7)}.json`), "utf8"));
}

/** path → type/mode/size/link of a tree, to compare two extractions. */
function tree(dir: string): Map<string, string> {
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

let reg: Registry;
let layout: OciLayout;
let L: { busybox: Layer; hello: Layer; helloGz: Layer; whiteout: Layer; dockerExtra: Layer };
let img1: { digest: string; config: string };
let multiDigest: string;
const proxies: Proxy[] = [];

beforeAll(async () => {
  if (!enabled) return;
  if (process.env.MINID_TEST_SOURCE !== "1") ensureBuilt();
  reg = await startRegistry();
  layout = new OciLayout();
  L = {
    busybox: busyboxLayer(),
    hello: layerFrom(tarOf({ "etc/hello": "hi\n", "opt/dir/file": "x" }), "zstd"),
    helloGz: layerFrom(tarOf({ "etc/hello": "hi\n", "opt/dir/file": "x" }), "gzip"),
    whiteout: layerFrom(tarOf({ "bin/.wh.vi": "", "opt/.wh.dir": "", "opt/new": "new\n" }), "gzip"),
    dockerExtra: layerFrom(tarOf({ "etc/docker-format": "yes\n" }), "gzip"),
  };
  const one = layout.image({ layers: [L.busybox, L.hello, L.whiteout], cmd: ["sh"] });
  layout.tag("1", one);
  pushLayout(layout, "1", `${reg.host}/test/busybox:1`);
  img1 = { digest: one.digest, config: JSON.parse(readFileSync(join(layout.dir, "blobs", "sha256", one.digest.slice(7)), "utf8")).config.digest };

  const arm = layout.image({ layers: [L.busybox], arch: "arm64" });
  const multi = layout.multi([{ ...arm, platform: { os: "linux", architecture: "arm64", variant: "v8" } }, one]);
  multiDigest = multi.digest;
  layout.tag("multi", multi);
  pushLayout(layout, "multi", `${reg.host}/test/busybox:multi`);
  layout.tag("armonly", layout.multi([arm]));
  pushLayout(layout, "armonly", `${reg.host}/test/busybox:armonly`);

  // umoci (0.4) cannot unpack zstd: the push test compares trees of this gzip-only twin.
  layout.tag("gz", layout.image({ layers: [L.busybox, L.helloGz, L.whiteout], cmd: ["sh"] }));
  pushLayout(layout, "gz", `${reg.host}/test/gz:1`);

  const dockerImg = layout.image({ layers: [L.busybox, L.dockerExtra] });
  layout.tag("docker", dockerImg);
  pushLayout(layout, "docker", `${reg.host}/test/dockerfmt:1`, ["--format", "v2s2"]);
}, 180_000);

afterAll(async () => {
  for (const p of proxies) p.stop();
  await reg?.stop();
  layout?.remove();
  const leftover = roots.flatMap((r) => removeAllContainers(r));
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  expect(leftover).toEqual([]);
}, 30_000);

describe("pull", () => {
  let root: string;
  it("pulls an OCI image by tag: Docker-style output, config digest as id, tag and repo digest", async () => {
    root = newRoot("pull");
    const ref = `${reg.host}/test/busybox:1`;
    const r = await minid(root, ["pull", ref]);
    expect(r.stderr.split("\n").slice(0, 4)).toEqual([
      "1: Pulling from test/busybox",
      `${L.busybox.digest.slice(7, 19)}: Pulling fs layer`,
      `${L.hello.digest.slice(7, 19)}: Pulling fs layer`,
      `${L.whiteout.digest.slice(7, 19)}: Pulling fs layer`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${ref}\n`);
    expect(r.stderr).toContain(`${L.busybox.digest.slice(7, 19)}: Download complete\n`);
    expect(r.stderr).toContain(`${L.whiteout.digest.slice(7, 19)}: Pull complete\n`);
    expect(r.stderr).toEndWith(`Digest: ${img1.digest}\nStatus: Downloaded newer image for ${ref}\n`);
    const tags = JSON.parse(readFileSync(join(root, "image", "repositories.json"), "utf8"));
    expect(tags[ref]).toBe(img1.config);
    const rec = imageJson(root, img1.config);
    expect(rec.id).toBe(img1.config);
    expect(rec.repoDigests).toEqual([`${reg.host}/test/busybox@${img1.digest}`]);
    expect(rec.layers.map((l: any) => [l.diffId, l.digest, l.mediaType])).toEqual(
      [L.busybox, L.hello, L.whiteout].map((l) => [l.diffId, l.digest, l.mediaType]),
    );
    // Pull verifies and stores blobs; each layer is unpacked once, on first use (the next test).
    for (const l of [L.busybox, L.hello, L.whiteout]) {
      expect(existsSync(join(root, "image", "blobs", "sha256", l.digest.slice(7)))).toBe(true);
      expect(existsSync(join(root, "image", "layers", l.diffId.slice(7), "layer.json"))).toBe(true);
    }
    expect(scratchLeft(root)).toEqual([]);
    const list = await minid(root, ["images"]);
    expect(list.stdout).toContain(`${reg.host}/test/busybox`);
  });

  it("runs a container from the pulled image (layers stacked, whiteouts applied)", async () => {
    const r = await minid(root, [
      "run",
      "--rm",
      `${reg.host}/test/busybox:1`,
      "sh",
      "-c",
      "cat /etc/hello; test -e /bin/vi && echo vi-present; test -e /opt/dir && echo dir-present; cat /opt/new; ls /bin/ls",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hi\nnew\n/bin/ls\n");
    expect(r.code).toBe(0);
    for (const l of [L.busybox, L.hello, L.whiteout]) {
      expect(existsSync(join(root, "image", "layers", l.diffId.slice(7), "diff"))).toBe(true);
    }
    expect(scratchLeft(root)).toEqual([]);
  });

  it("a layer's tree matches what umoci unpacks from the same image", async () => {
    const bundle = mkdtempSync(join(tmpdir(), "minid-umoci-"));
    roots.push(bundle);
    const oci = join(bundle, "oci");
    expect(skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${reg.host}/test/busybox:1`, `oci:${oci}:x`]).code).toBe(0);
    // One layer at a time: an image of just the busybox layer unpacks to that layer's tree.
    const only = new OciLayout(join(bundle, "single"));
    only.tag("b", only.image({ layers: [L.busybox] }));
    const u = Bun.spawnSync(["umoci", "unpack", "--image", `${only.dir}:b`, join(bundle, "b")], { stderr: "pipe" });
    expect(u.exitCode).toBe(0);
    const mine = tree(join(root, "image", "layers", L.busybox.diffId.slice(7), "diff"));
    const theirs = tree(join(bundle, "b", "rootfs"));
    expect([...mine.entries()].sort()).toEqual([...theirs.entries()].sort());
    expect(mine.size).toBeGreaterThan(200);
  });

  it("a second pull of the same image downloads nothing", async () => {
    const proxy = startProxy(reg.url);
    proxies.push(proxy);
    const ref = `${proxy.host}/test/busybox:1`;
    const r = await minid(root, ["pull", ref]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${L.busybox.digest.slice(7, 19)}: Already exists`);
    expect(r.stderr).toContain(`Status: Downloaded newer image for ${ref}`); // a new tag
    expect(proxy.requests.filter((q) => q.path.includes("/blobs/"))).toEqual([]);
    const again = await minid(root, ["pull", ref]);
    expect(again.stderr).toContain(`Status: Image is up to date for ${ref}`);
    expect(again.code).toBe(0);
  });

  it("an index resolves to linux/amd64, sharing the layers already stored", async () => {
    const ref = `${reg.host}/test/busybox:multi`;
    const r = await minid(root, ["pull", ref]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Digest: ${multiDigest}`);
    expect(r.stderr).not.toContain("Pulling fs layer");
    const tags = JSON.parse(readFileSync(join(root, "image", "repositories.json"), "utf8"));
    expect(tags[ref]).toBe(img1.config);
    expect(imageJson(root, img1.config).repoDigests).toContain(`${reg.host}/test/busybox@${multiDigest}`);
  });

  it("pulls by digest (no tag), quietly with -q", async () => {
    const fresh = newRoot("digest");
    const ref = `${reg.host}/test/busybox@${img1.digest}`;
    const r = await minid(fresh, ["pull", "-q", ref]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${ref}\n`);
    expect(r.code).toBe(0);
    const tagsFile = join(fresh, "image", "repositories.json");
    expect(existsSync(tagsFile) ? JSON.parse(readFileSync(tagsFile, "utf8")) : {}).toEqual({});
    expect(imageJson(fresh, img1.config).repoDigests).toEqual([`${reg.host}/test/busybox@${img1.digest}`]);
  });

  it("pulls a Docker schema 2 image", async () => {
    const fresh = newRoot("docker");
    const ref = `${reg.host}/test/dockerfmt:1`;
    const raw = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]).out);
    expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const r = await minid(fresh, ["pull", ref]);
    expect(r.code).toBe(0);
    const run = await minid(fresh, ["run", "--rm", ref, "cat", "/etc/docker-format"]);
    expect(run.stdout).toBe("yes\n");
    // and it goes back up as Docker schema 2 with the same layer blobs
    expect((await minid(fresh, ["tag", ref, `${reg.host}/back/dockerfmt:2`])).code).toBe(0);
    const p = await minid(fresh, ["push", `${reg.host}/back/dockerfmt:2`]);
    expect(p.code).toBe(0);
    const back = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/back/dockerfmt:2`]).out);
    expect(back.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(back.layers.map((l: any) => l.digest)).toEqual(raw.layers.map((l: any) => l.digest));
    expect(back.config.digest).toBe(raw.config.digest);
  });

  it("run pulls an image it does not have, with Docker's message on stderr", async () => {
    const fresh = newRoot("runpull");
    const ref = `${reg.host}/test/busybox:1`;
    const r = await minid(fresh, ["run", "--rm", ref, "cat", "/etc/hello"]);
    expect({ code: r.code, stdout: r.stdout, err: r.code ? r.stderr : "" }).toEqual({ code: 0, stdout: "hi\n", err: "" });
    expect(r.stderr).toStartWith(`Unable to find image '${ref}' locally\n1: Pulling from test/busybox\n`);
    expect(r.stderr).toContain(`Status: Downloaded newer image for ${ref}`);
    expect(r.code).toBe(0);
    const bad = await minid(fresh, ["run", "--rm", `${reg.host}/test/busybox:nope`, "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(
      `Unable to find image '${reg.host}/test/busybox:nope' locally\nminid: manifest for ${reg.host}/test/busybox:nope not found: manifest unknown: manifest unknown\n`,
    );
  });
});

describe("push", () => {
  it("pushes a pulled image under another name (blobs mounted or skipped), readable by skopeo and umoci", async () => {
    const root = newRoot("push");
    const source = `${reg.host}/test/gz:1`;
    const pulled = await minid(root, ["pull", "-q", source]);
    expect(pulled.code).toBe(0);
    const orig = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${source}`]).out);
    const target = `${reg.host}/pushed/bb:2`;
    expect((await minid(root, ["tag", source, target])).code).toBe(0);
    const r = await minid(root, ["push", target]);
    expect(r.code).toBe(0);
    const m = /^2: digest: (sha256:[a-f0-9]{64}) size: (\d+)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(r.stderr.split("\n").slice(0, 4)).toEqual([
      `The push refers to repository [${reg.host}/pushed/bb]`,
      `${L.whiteout.digest.slice(7, 19)}: Preparing`,
      `${L.helloGz.digest.slice(7, 19)}: Preparing`,
      `${L.busybox.digest.slice(7, 19)}: Preparing`,
    ]);
    expect(r.stderr).toContain(`${L.busybox.digest.slice(7, 19)}: Mounted from test/gz\n`);
    const info = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${target}`]).out);
    expect(info.Digest).toBe(m![1]);
    expect(info.Layers).toEqual([L.busybox.digest, L.helloGz.digest, L.whiteout.digest]);
    const raw = skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${target}`]).out;
    expect(raw.length).toBe(Number(m![2]));
    expect(JSON.parse(raw).config.digest).toBe(orig.config.digest);
    // the repo digest is recorded
    expect(imageJson(root, orig.config.digest).repoDigests).toContain(`${reg.host}/pushed/bb@${m![1]}`);
    // trees: umoci unpack of the pushed image equals that of the original
    const work = mkdtempSync(join(tmpdir(), "minid-umoci-"));
    roots.push(work);
    for (const [name, ref] of [
      ["orig", source],
      ["pushed", target],
    ]) {
      expect(skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${join(work, "oci")}:${name}`]).code).toBe(0);
      const u = Bun.spawnSync(["umoci", "unpack", "--image", `${join(work, "oci")}:${name}`, join(work, name)], { stderr: "pipe" });
      expect(u.exitCode).toBe(0);
    }
    const a = tree(join(work, "orig", "rootfs"));
    const b = tree(join(work, "pushed", "rootfs"));
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
    expect(a.has("/etc/hello")).toBe(true);
    expect(a.has("/bin/vi")).toBe(false);
    // pushing again: every layer already exists
    const again = await minid(root, ["push", target]);
    expect(again.code).toBe(0);
    expect(again.stderr.match(/Layer already exists/g)?.length).toBe(3);
    expect(again.stdout).toBe(r.stdout);
  });

  it("uploads an imported image, which a fresh root pulls and runs", async () => {
    const root = newRoot("pushimp");
    const target = `${reg.host}/imported/busybox:v1`;
    expect((await minid(root, ["import", "-c", 'CMD ["sh"]', join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), target])).code).toBe(0);
    const r = await minid(root, ["push", target]);
    expect(r.stderr).toContain(": Pushed\n");
    expect(r.code).toBe(0);
    const fresh = newRoot("pullimp");
    const run = await minid(fresh, ["run", "--rm", target, "sh", "-c", "echo ok; ls /bin/busybox"]);
    expect({ code: run.code, stdout: run.stdout, err: run.code ? run.stderr : "" }).toEqual({ code: 0, stdout: "ok\n/bin/busybox\n", err: "" });
  });

  it("refuses an unknown local tag and a digest reference", async () => {
    const root = newRoot("pushbad");
    const r = await minid(root, ["push", `${reg.host}/nothing/here:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`minid: An image does not exist locally with the tag: ${reg.host}/nothing/here:1\n`);
    const d = await minid(root, ["push", `${reg.host}/x@sha256:${"a".repeat(64)}`]);
    expect(d.code).toBe(1);
  });
});

describe("token auth and login", () => {
  let auth: Proxy;
  let tokens: string[];
  let tokenRequests: { auth: string | null; scope: string[]; service: string | null }[];
  beforeAll(() => {
    if (!enabled) return;
    tokens = [];
    tokenRequests = [];
    const realmPort = { port: 0 };
    auth = startProxy(reg.url, (req, url) => {
      if (url.pathname === "/token") {
        const a = req.headers.get("authorization");
        tokenRequests.push({ auth: a, scope: url.searchParams.getAll("scope"), service: url.searchParams.get("service") });
        if (a !== `Basic ${Buffer.from("alice:s3cret").toString("base64")}`) {
          return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }), { status: 401 });
        }
        const t = `tok-${tokens.length}-${Math.random().toString(36).slice(2)}`;
        tokens.push(t);
        return Response.json({ token: t, expires_in: 300 });
      }
      const h = req.headers.get("authorization");
      if (!h || !tokens.includes(h.replace(/^Bearer /, ""))) {
        const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
        const scope = repo ? `,scope="repository:${repo}:${req.method === "GET" || req.method === "HEAD" ? "pull" : "pull,push"}"` : "";
        return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
          status: 401,
          headers: { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${realmPort.port}/token",service="test-registry"${scope}` },
        });
      }
      return undefined;
    });
    realmPort.port = auth.port;
    proxies.push(auth);
  });

  it("without login: one line saying authentication is required", async () => {
    const root = newRoot("noauth");
    const r = await minid(root, ["pull", `${auth.host}/test/busybox:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("unauthorized");
    expect(r.stderr).toContain(`minid login ${auth.host}`);
    expect(snapshot(root).filter((l) => !l.endsWith(" d 700"))).toEqual([]);
  });

  it("login with a wrong password fails and stores nothing", async () => {
    const root = newRoot("badlogin");
    const r = await minid(root, ["login", "-u", "alice", "--password-stdin", auth.host], { input: "wrong\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`minid: ${auth.host}: unauthorized: incorrect username or password\n`);
    expect(existsSync(join(root, "auth.json"))).toBe(false);
  });

  it("login, then pull and push with tokens; logout forgets", async () => {
    const root = newRoot("login");
    const l = await minid(root, ["login", "-u", "alice", "--password-stdin", auth.host], { input: "s3cret\n" });
    expect(l.stdout).toBe("Login Succeeded\n");
    expect(l.code).toBe(0);
    const file = join(root, "auth.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).auths[auth.host].auth).toBe(Buffer.from("alice:s3cret").toString("base64"));

    const n = tokenRequests.length;
    const ref = `${auth.host}/test/busybox:1`;
    const p = await minid(root, ["pull", ref]);
    expect(p.stderr).toContain("Status: Downloaded newer image");
    expect(p.code).toBe(0);
    const used = tokenRequests.slice(n);
    expect(used.length).toBeGreaterThan(0);
    expect(used[0]!.scope).toContain("repository:test/busybox:pull");
    expect(used[0]!.service).toBe("test-registry");

    const target = `${auth.host}/authpushed/bb:1`;
    expect((await minid(root, ["tag", ref, target])).code).toBe(0);
    const push = await minid(root, ["push", target]);
    expect(push.stderr).toBe(push.stderr); // for the diff on failure
    expect(push.code).toBe(0);
    expect(tokenRequests.slice(n).some((t) => t.scope.includes("repository:authpushed/bb:pull,push"))).toBe(true);
    expect(JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/authpushed/bb:1`]).out).config.digest).toBe(img1.config);

    const out = await minid(root, ["logout", auth.host]);
    expect(out.stdout).toBe(`Removing login credentials for ${auth.host}\n`);
    expect(JSON.parse(readFileSync(file, "utf8")).auths).toEqual({});
    const again = await minid(root, ["logout", auth.host]);
    expect(again.stdout).toBe(`Not logged in to ${auth.host}\n`);
    expect((await minid(newRoot("after"), ["pull", ref])).code).toBe(1);
  });

  it("a registry that asks for Basic auth gets the login credentials", async () => {
    const basic = startProxy(reg.url, (req) => {
      if (req.headers.get("authorization") !== `Basic ${Buffer.from("bob:pw").toString("base64")}`) {
        return new Response("{}", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="test"' } });
      }
      return undefined;
    });
    proxies.push(basic);
    const root = newRoot("basic");
    expect((await minid(root, ["pull", `${basic.host}/test/busybox:1`])).code).toBe(1);
    const l = await minid(root, ["login", "-u", "bob", "-p", "pw", basic.host]);
    expect(l.code).toBe(0);
    expect(l.stderr).toContain("insecure"); // -p on the command line is discouraged
    const r = await minid(root, ["pull", `${basic.host}/test/busybox:1`]);
    expect(r.code).toBe(0);
  });

  it("login needs credentials when stdin is not a terminal", async () => {
    const r = await minid(newRoot("nologin"), ["login", auth.host]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("non TTY");
  });
});

describe("failures leave the store as it was", () => {
  let root: string;
  let before: string[];
  beforeAll(async () => {
    if (!enabled) return;
    root = newRoot("fail");
    const r = await minid(root, ["pull", "-q", `${reg.host}/test/dockerfmt:1`]); // something to keep intact
    expect(r.code).toBe(0);
    before = snapshot(root);
  }, 60_000);
  const unchanged = () => {
    expect(snapshot(root)).toEqual(before);
    expect(scratchLeft(root)).toEqual([]);
  };
  /** Progress lines may come first; the error itself is one line, the last. */
  const failsAfterProgress = (r: Res) => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("minid: "))).toEqual([lines.at(-1)!]);
    expect(lines.filter((l) => !l.startsWith("minid: ")).every((l) => /^([a-f0-9]{12}: |[\w.-]+: Pulling from )/.test(l))).toBe(true);
  };
  const oneLine = (r: Res) => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith("minid: ");
  };

  it("registry down: the address and a hint", async () => {
    const port = await freePort();
    const r = await minid(root, ["pull", `127.0.0.1:${port}/test/busybox:1`]);
    oneLine(r);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.stderr).toContain("connection refused");
    expect(r.stderr).toContain("is a registry running");
    unchanged();
  });

  it("unknown tag, unknown repository, bad reference", async () => {
    const t = await minid(root, ["pull", `${reg.host}/test/busybox:nope`]);
    oneLine(t);
    expect(t.stderr).toBe(`minid: manifest for ${reg.host}/test/busybox:nope not found: manifest unknown: manifest unknown\n`);
    const u = await minid(root, ["pull", `${reg.host}/no/such-image`]);
    oneLine(u);
    expect(u.stderr).toContain(`${reg.host}/no/such-image`);
    const b = await minid(root, ["pull", `${reg.host}/Bad/NAME`]);
    oneLine(b);
    expect(b.stderr).toContain("invalid reference format");
    const e = await minid(root, ["pull"]);
    expect(e.code).toBe(1);
    unchanged();
  });

  it("only another platform in the index", async () => {
    const r = await minid(root, ["pull", `${reg.host}/test/busybox:armonly`]);
    oneLine(r);
    expect(r.stderr).toContain("no matching manifest for linux/amd64");
    expect(r.stderr).toContain("linux/arm64");
    unchanged();
  });

  it("a corrupted blob: digest mismatch, nothing kept", async () => {
    const corrupt = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.endsWith(`/blobs/${L.whiteout.digest}`)) {
        const b = new Uint8Array(await res.arrayBuffer());
        b[b.length - 12]! ^= 0xff; // inside the deflate stream's tail
        return new Response(b, { status: res.status, headers: res.headers });
      }
      return res;
    });
    proxies.push(corrupt);
    const r = await minid(root, ["pull", `${corrupt.host}/test/busybox:1`]);
    failsAfterProgress(r);
    expect(r.stderr).toContain(`digest mismatch for layer ${L.whiteout.digest}`);
    unchanged();
  });

  it("a corrupted image config: digest mismatch, nothing kept", async () => {
    const corrupt = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.endsWith(`/blobs/${img1.config}`)) {
        const text = (await res.text()).replace('"architecture":"amd64"', '"architecture":"AMD64"');
        return new Response(text, { status: res.status, headers: res.headers });
      }
      return res;
    });
    proxies.push(corrupt);
    const r = await minid(root, ["pull", `${corrupt.host}/test/busybox:1`]);
    failsAfterProgress(r);
    expect(r.stderr).toContain(`digest mismatch for image config ${img1.config}`);
    unchanged();
  });

  it("a corrupted manifest is refused", async () => {
    const bad = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.includes("/manifests/")) {
        const text = (await res.text()).replace('"schemaVersion":2', '"schemaVersion": 2');
        const h = new Headers(res.headers);
        h.delete("content-length");
        return new Response(text, { status: res.status, headers: h });
      }
      return res;
    });
    proxies.push(bad);
    const r = await minid(root, ["pull", `${bad.host}/test/busybox@${img1.digest}`]);
    oneLine(r);
    expect(r.stderr).toContain("manifest digest mismatch");
    unchanged();
  });

  it("by tag, a manifest whose bytes disagree with its Docker-Content-Digest header is refused", async () => {
    // The header is the registry's word on what the tag names; content that does not hash to
    // it was changed on the way.
    const bad = startProxy(reg.url, undefined, async (req, url, res) => {
      if (req.method === "GET" && url.pathname.endsWith("/manifests/1") && res.status === 200) {
        const text = (await res.text()).replace('"schemaVersion":2', '"schemaVersion": 2');
        const h = new Headers(res.headers);
        h.delete("content-length");
        return new Response(text, { status: res.status, headers: h });
      }
      return res;
    });
    proxies.push(bad);
    const r = await minid(root, ["pull", `${bad.host}/test/busybox:1`]);
    oneLine(r);
    expect(r.stderr).toContain("manifest digest mismatch");
    expect(r.stderr).toContain("header says");
    unchanged();
  });

  it("a substituted manifest with a matching Docker-Content-Digest header is refused by digest", async () => {
    // The proxy serves another (valid) manifest for the digest asked for and recomputes the
    // header, so only the client's own hash of the bytes against the reference can notice.
    const swapped: string[] = [];
    const evil = startProxy(reg.url, undefined, async (req, url, res) => {
      if (url.pathname.includes("/manifests/") && res.status === 200) {
        const doc = JSON.parse(await res.text());
        doc.annotations = { ...(doc.annotations ?? {}), "org.example.swapped": "yes" };
        const text = JSON.stringify(doc);
        const digest = `sha256:${createHash("sha256").update(text).digest("hex")}`;
        swapped.push(digest);
        const h = new Headers(res.headers);
        h.delete("content-length");
        h.set("docker-content-digest", digest);
        return new Response(req.method === "HEAD" ? null : text, { status: 200, headers: h });
      }
      return res;
    });
    proxies.push(evil);
    const r = await minid(root, ["pull", `${evil.host}/test/busybox@${img1.digest}`]);
    oneLine(r);
    expect(swapped.length).toBeGreaterThan(0);
    expect(r.stderr).toContain("manifest digest mismatch");
    expect(r.stderr).toContain(img1.digest);
    unchanged();
  });

  it("a 500 is retried, and a dropped blob download resumes with a Range request", async () => {
    let dropped = false;
    const flaky = startProxy(reg.url, async (req, url, n) => {
      if (n === 1) return new Response("oops", { status: 500 });
      if (!dropped && req.method === "GET" && url.pathname.endsWith(`/blobs/${L.busybox.digest}`)) {
        dropped = true;
        // Half the blob, then the response ends short of its Content-Length.
        const half = L.busybox.blob.subarray(0, L.busybox.blob.length >> 1);
        let sent = false;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!sent) {
                sent = true;
                c.enqueue(half);
              } else {
                await Bun.sleep(300); // let the client read the first half
                c.close(); // short of Content-Length: the connection ends early
              }
            },
          }),
          { headers: { "content-length": String(L.busybox.blob.length), "content-type": "application/octet-stream" } },
        );
      }
      return undefined;
    });
    proxies.push(flaky);
    const fresh = newRoot("flaky");
    const r = await minid(fresh, ["pull", `${flaky.host}/test/busybox:1`]);
    expect(r.stderr).toContain("Status: Downloaded newer image");
    expect(r.code).toBe(0);
    expect(flaky.requests[0]!.path).toContain("/manifests/1");
    expect(flaky.requests[1]!.path).toContain("/manifests/1");
    const ranged = flaky.requests.filter((q) => q.range);
    expect(ranged.length).toBe(1);
    expect(ranged[0]!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/=(\d+)-/.exec(ranged[0]!.range!)![1])).toBeGreaterThan(0);
    expect(scratchLeft(fresh)).toEqual([]);
    const run = await minid(fresh, ["run", "--rm", `${flaky.host}/test/busybox:1`, "cat", "/etc/hello"]);
    expect(run.stdout).toBe("hi\n");
  });

  it("persistent 5xx gives up after 4 tries with one line", async () => {
    const down = startProxy(reg.url, () => new Response("down", { status: 503 }));
    proxies.push(down);
    const r = await minid(root, ["pull", `${down.host}/test/busybox:1`]);
    oneLine(r);
    expect(r.stderr).toContain("503");
    expect(down.requests.length).toBe(4);
    unchanged();
  });
});

describe("insecure registries", () => {
  const ip = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
  const itIp = (name: string, fn: () => Promise<void>) => (enabled && ip ? test : test.skip)(name, fn, T);
  itIp("a non-loopback registry needs --insecure-registry (or MINID_INSECURE_REGISTRIES) for plain http", async () => {
    const port = await freePort();
    const server = Bun.serve({
      hostname: ip,
      port,
      fetch: (req) => {
        const u = new URL(req.url);
        return fetch(reg.url + u.pathname + u.search, { method: req.method, headers: req.headers, redirect: "manual" });
      },
    });
    try {
      const root = newRoot("insecure");
      const ref = `${ip}:${port}/test/busybox:1`;
      const r = await minid(root, ["pull", ref]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`--insecure-registry ${ip}:${port}`);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      const ok = await minid(root, ["--insecure-registry", `${ip}:${port}`, "pull", "-q", ref]);
      expect(ok.stderr).toBe("");
      expect(ok.code).toBe(0);
      const env = await minid(newRoot("insecure-env"), ["pull", "-q", ref], { env: { MINID_INSECURE_REGISTRIES: `${ip}` } });
      expect(env.code).toBe(0);
    } finally {
      server.stop(true);
    }
  });
});
