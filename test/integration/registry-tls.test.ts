// Registries over TLS, as Docker talks to them: https first, the CA from certs.d (minid's
// <root>/certs.d and the system directory, here MINID_CERTS_D instead of /etc/docker/certs.d),
// client certificates, --tls-verify=false; and push's compression: gzip by default, zstd on
// request, compressed digests remembered (a second push uploads nothing, another repository
// gets a mount), checked with skopeo and the registry's own access log.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ensureBuilt, isRoot, minidCommand, removeAllContainers } from "../helpers/minid.ts";
import { requires } from "../helpers/requires.ts";
import { BUSYBOX_TGZ, skopeo, startRegistry } from "./registry-fixtures.ts";

const gate = requires("root", "docker-registry", "skopeo", "openssl");
const it = (name: string, fn: () => Promise<void>) => gate(name, fn, 120_000);
const enabled = isRoot() && ["docker-registry", "skopeo", "openssl"].every((t) => Bun.spawnSync(["sh", "-c", `command -v ${t}`]).exitCode === 0);

type Reg = Awaited<ReturnType<typeof startRegistry>>;
const work = mkdtempSync(join(tmpdir(), "minid-tls-"));
const roots: string[] = [];
const regs: Reg[] = [];
/** The directory tests use instead of /etc/docker/certs.d. */
const systemCerts = join(work, "system-certs.d");

function newRoot(label: string): string {
  const d = mkdtempSync(join(tmpdir(), `minid-test-tls-${label}-`));
  roots.push(d);
  return d;
}

async function minid(root: string, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([...minidCommand(), "--root", root, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MINID_REGISTRY_BACKOFF_MS: "50", MINID_CERTS_D: systemCerts, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

function openssl(args: string[]) {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: work, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it. */
function makeCerts() {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=minid test CA"]);
  writeFileSync(join(work, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, cn, ext] of [["server", "localhost", true], ["client", "minid client", false]] as const) {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", ...(ext ? ["-extfile", "san.ext"] : [])]);
  }
}

const oneLine = (r: { code: number; stdout: string; stderr: string }) => {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
};

let tlsReg: Reg, mtlsReg: Reg, plainReg: Reg;
let src: string; // a root holding busybox and a commit of it

beforeAll(async () => {
  if (!enabled) return;
  if (process.env.MINID_TEST_SOURCE !== "1") ensureBuilt();
  makeCerts();
  const files = { cert: join(work, "server.crt"), key: join(work, "server.key"), ca: join(work, "ca.crt") };
  // Each registry is in `regs` as soon as it runs, so afterAll stops it even if a later start fails.
  regs.push((tlsReg = await startRegistry({ tls: files, accessLog: true })));
  regs.push((mtlsReg = await startRegistry({ tls: { ...files, clientCa: files.ca } })));
  regs.push((plainReg = await startRegistry({ accessLog: true })));
  src = newRoot("src");
  expect((await minid(src, ["run", "--name", "mk", "busybox", "sh", "-c", "echo compressed > /f; head -c 300000 /dev/zero > /zeros"])).code).toBe(0);
  expect((await minid(src, ["commit", "mk", "app:1"])).code).toBe(0);
  expect((await minid(src, ["rm", "mk"])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  for (const r of regs) await r.stop();
  const left = roots.flatMap((r) => removeAllContainers(r));
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  expect(left).toEqual([]);
}, 30_000);

describe("TLS registries", () => {
  it("an untrusted certificate fails with one line saying where the CA goes; --tls-verify=false and certs.d work", async () => {
    const ref = `${tlsReg.host}/tls/app:1`;
    expect((await minid(src, ["tag", "app:1", ref])).code).toBe(0);
    const refused = await minid(src, ["push", ref]);
    oneLine(refused);
    expect(refused.stderr).toContain("x509: certificate signed by unknown authority");
    expect(refused.stderr).toContain(join(src, "certs.d", tlsReg.host, "ca.crt"));
    expect(refused.stderr).toContain("--tls-verify=false");
    // no request reached the registry over plain http, and nothing was uploaded
    expect(tlsReg.requests().filter((q) => q.method !== "GET")).toEqual([]);

    const unverified = await minid(src, ["push", "--tls-verify=false", ref]);
    expect([unverified.code, unverified.stderr.includes("Pushed")]).toEqual([0, true]);
    expect(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]).code).toBe(0);

    // the CA in <root>/certs.d/HOST:PORT/: verified pull into that root
    const own = newRoot("own-ca");
    mkdirSync(join(own, "certs.d", tlsReg.host), { recursive: true });
    copyFileSync(join(work, "ca.crt"), join(own, "certs.d", tlsReg.host, "ca.crt"));
    const pulled = await minid(own, ["pull", "-q", ref]);
    expect([pulled.code, pulled.stderr]).toEqual([0, ""]);
    expect((await minid(own, ["run", "--rm", ref, "cat", "/f"])).stdout).toBe("compressed\n");

    // the CA in the system directory (MINID_CERTS_D standing in for /etc/docker/certs.d)
    const sys = newRoot("sys-ca");
    const before = (await minid(sys, ["pull", "-q", ref])).code;
    expect(before).toBe(1);
    mkdirSync(join(systemCerts, tlsReg.host), { recursive: true });
    copyFileSync(join(work, "ca.crt"), join(systemCerts, tlsReg.host, "ca.crt"));
    try {
      const ok = await minid(sys, ["pull", "-q", ref]);
      expect([ok.code, ok.stderr]).toEqual([0, ""]);
    } finally {
      rmSync(join(systemCerts, tlsReg.host), { recursive: true, force: true });
    }
    // --tls-verify=false as a global option, before the command
    const glob = newRoot("global-noverify");
    expect((await minid(glob, ["--tls-verify=false", "pull", "-q", ref])).code).toBe(0);
    // and on build, for the image FROM names
    const ctx = join(work, "ctx");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), `FROM ${ref}\nRUN cat /f > /g\n`);
    const b1 = newRoot("build-verify");
    const refusedBuild = await minid(b1, ["build", "-q", "-t", "b:1", ctx]);
    expect([refusedBuild.code, refusedBuild.stderr.includes("x509")]).toEqual([1, true]);
    const built = await minid(b1, ["build", "-q", "--tls-verify=false", "-t", "b:1", ctx]);
    expect([built.code, built.code ? built.stderr : ""]).toEqual([0, ""]);
    expect((await minid(b1, ["run", "--rm", "b:1", "cat", "/g"])).stdout).toBe("compressed\n");
  });

  it("an untrusted certificate never falls back to plain http, even where plain http would answer", async () => {
    // One loopback port that speaks TLS (the TLS registry) to a TLS client and plain http (the
    // plain registry, which has the image) to anyone else: a downgrade would find the image.
    const ref = `${plainReg.host}/downgrade/app:1`;
    expect((await minid(src, ["tag", "app:1", ref])).code).toBe(0);
    expect((await minid(src, ["push", "-q", ref])).code).toBe(0);
    type Pair = { peer?: import("bun").Socket<any>; pending: Uint8Array[] };
    const mux = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(s) {
          s.data = { pending: [] };
        },
        async data(s, chunk) {
          if (s.data.peer) return void s.data.peer.write(chunk);
          s.data.pending.push(new Uint8Array(chunk));
          if (s.data.pending.length > 1) return;
          const port = chunk[0] === 0x16 ? tlsReg.port : plainReg.port;
          s.data.peer = await Bun.connect({
            hostname: "127.0.0.1",
            port,
            socket: { data: (_p, c) => void s.write(c), close: () => void s.end(), error: () => void s.end() },
          });
          for (const c of s.data.pending) s.data.peer.write(c);
        },
        close(s) {
          s.data.peer?.end();
        },
      },
    });
    try {
      const root = newRoot("downgrade");
      const r = await minid(root, ["pull", `127.0.0.1:${mux.port}/downgrade/app:1`]);
      oneLine(r);
      expect(r.stderr).toContain("x509: certificate signed by unknown authority");
    } finally {
      mux.stop(true);
    }
  });

  // As Docker's daemon option, --insecure-registry accepts any certificate over https. The
  // registry is reached by a forwarder on a documentation address of an interface this
  // test makes (and removes): not loopback, so no plain-http allowance, and never off the host.
  requires("root", "ip", "docker-registry", "skopeo", "openssl")("--insecure-registry: https without checking the certificate, for a registry not on loopback", async () => {
    const ip = "198.51.100.77";
    const dev = `mndtls${process.pid % 10000}`;
    const sh = (c: string) => expect(Bun.spawnSync(["sh", "-c", c], { stderr: "pipe" }).exitCode).toBe(0);
    // A veth pair (this kernel has no dummy driver): the address on one end is local to the host.
    sh(`ip link add ${dev} type veth peer name ${dev}p && ip addr add ${ip}/32 dev ${dev} && ip link set ${dev} up && ip link set ${dev}p up`);
    let fwd: import("bun").TCPSocketListener<any> | undefined;
    try {
    // The image this test pulls, pushed here (not relying on an earlier test's push).
    const pushed = await minid(src, ["--tls-verify=false", "push", "-q", `${tlsReg.host}/tls/app:1`]);
    expect(pushed.code).toBe(0);
    fwd = Bun.listen<{ peer?: import("bun").Socket<any>; pending: Uint8Array[] }>({
      hostname: ip,
      port: 0,
      socket: {
        open(s) {
          s.data = { pending: [] };
        },
        async data(s, chunk) {
          if (s.data.peer) return void s.data.peer.write(chunk);
          s.data.pending.push(new Uint8Array(chunk));
          if (s.data.pending.length > 1) return;
          s.data.peer = await Bun.connect({
            hostname: "127.0.0.1",
            port: tlsReg.port,
            socket: { data: (_p, c) => void s.write(c), close: () => void s.end(), error: () => void s.end() },
          });
          for (const c of s.data.pending) s.data.peer.write(c);
        },
        close(s) {
          s.data.peer?.end();
        },
      },
    });
      const host = `${ip}:${fwd!.port}`;
      const ref = `${host}/tls/app:1`;
      const root = newRoot("insecure-tls");
      const refused = await minid(root, ["pull", ref]);
      oneLine(refused);
      expect(refused.stderr).toContain("x509");
      const ok = await minid(root, ["--insecure-registry", host, "pull", "-q", ref]);
      expect([ok.code, ok.stderr]).toEqual([0, ""]);
    } finally {
      fwd?.stop(true);
      Bun.spawnSync(["ip", "link", "del", dev]);
    }
  });

  it("a registry that requires a client certificate: one line without it, success with client.cert/client.key", async () => {
    const ref = `${mtlsReg.host}/mtls/app:1`;
    const root = newRoot("mtls");
    const dir = join(root, "certs.d", mtlsReg.host);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(work, "ca.crt"), join(dir, "ca.crt"));
    const without = await minid(root, ["pull", ref]);
    oneLine(without);
    expect(without.stderr).toContain("client certificate");
    expect(without.stderr).toContain(dir);
    // a certificate without its key is refused as Docker refuses it
    copyFileSync(join(work, "client.crt"), join(dir, "client.cert"));
    const noKey = await minid(root, ["pull", ref]);
    oneLine(noKey);
    expect(noKey.stderr).toContain(`missing key ${join(dir, "client.key")}`);
    copyFileSync(join(work, "client.key"), join(dir, "client.key"));
    // push the image there from src with the same certificates, then pull it here
    const srcDir = join(src, "certs.d", mtlsReg.host);
    mkdirSync(srcDir, { recursive: true });
    for (const f of ["ca.crt", "client.cert", "client.key"]) copyFileSync(join(dir, f), join(srcDir, f));
    expect((await minid(src, ["tag", "app:1", ref])).code).toBe(0);
    const pushed = await minid(src, ["push", ref]);
    expect([pushed.code, pushed.code ? pushed.stderr : ""]).toEqual([0, ""]);
    const ok = await minid(root, ["pull", "-q", ref]);
    expect([ok.code, ok.stderr]).toEqual([0, ""]);
    expect((await minid(root, ["run", "--rm", ref, "cat", "/f"])).stdout).toBe("compressed\n");
  });
});

describe("push compression", () => {
  const uploads = (reg: Reg) => reg.requests().filter((q) => /\/blobs\/uploads\//.test(q.path) && q.method !== "GET");
  const fetchBlob = async (repo: string, digest: string) => new Uint8Array(await (await fetch(`${plainReg.url}/v2/${repo}/blobs/${digest}`)).arrayBuffer());
  const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

  it("layers go up gzip-compressed; a second push uploads nothing; another repository gets a mount", async () => {
    const ref = `${plainReg.host}/gz/app:1`;
    expect((await minid(src, ["tag", "app:1", ref])).code).toBe(0);
    const first = await minid(src, ["push", ref]);
    expect(first.code).toBe(0);
    const raw = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]).out);
    expect(raw.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(raw.layers.map((l: any) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+gzip"]);
    const diffIds = JSON.parse((await minid(src, ["image", "inspect", "app:1"])).stdout)[0].RootFS.Layers as string[];
    for (const [i, l] of raw.layers.entries()) {
      const blob = await fetchBlob("gz/app", l.digest);
      expect([blob[0], blob[1]]).toEqual([0x1f, 0x8b]);
      expect(sha(blob)).toBe(l.digest);
      expect(sha(gunzipSync(blob))).toBe(diffIds[i]);
    }
    // the commit's 300 kB of zeros really are compressed
    expect(raw.layers[1].size).toBeLessThan(20_000);
    const n = uploads(plainReg).length;
    expect(n).toBeGreaterThanOrEqual(3); // two layers and the config

    const again = await minid(src, ["push", ref]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(first.stdout); // same manifest digest
    expect(again.stderr.match(/Layer already exists/g)?.length).toBe(2);
    expect(uploads(plainReg).length).toBe(n);

    const other = `${plainReg.host}/elsewhere/app:1`;
    expect((await minid(src, ["tag", "app:1", other])).code).toBe(0);
    const mounted = await minid(src, ["push", other]);
    expect(mounted.code).toBe(0);
    // from gz/app, or from a repository an earlier test pushed the same layers to
    expect(mounted.stderr.match(/: Mounted from (gz|downgrade)\/app\n/g)?.length).toBe(2);
    const after = uploads(plainReg).slice(n);
    // only mount requests (answered 201) and the config's upload: no layer bytes again
    expect(after.filter((q) => q.path.includes("mount=")).map((q) => q.status)).toEqual([201, 201]);
    expect(after.filter((q) => q.method === "PUT").length).toBe(1);
    expect(JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${other}`]).out).layers).toEqual(raw.layers);
  });

  it("layers pulled from one repository are mounted from there when an image built on them goes to another", async () => {
    const root = newRoot("pulled-mount");
    const base = `${plainReg.host}/gz/app:1`; // pushed by the test above
    expect((await minid(root, ["pull", "-q", base])).code).toBe(0);
    expect((await minid(root, ["run", "--name", "d", base, "sh", "-c", "echo derived > /x"])).code).toBe(0);
    const ref = `${plainReg.host}/derived/app:1`;
    expect((await minid(root, ["commit", "d", ref])).code).toBe(0);
    const before = uploads(plainReg).length;
    const r = await minid(root, ["push", ref]);
    expect(r.code).toBe(0);
    expect(r.stderr.match(/: Mounted from gz\/app\n/g)?.length).toBe(2);
    expect(r.stderr.match(/: Pushed\n/g)?.length).toBe(1);
    // two mounts, the new layer and the config uploaded
    expect(uploads(plainReg).slice(before).filter((q) => q.method === "PUT").length).toBe(2);
  });

  it("--compression-format zstd: zstd blobs and media types, readable by skopeo and by a fresh pull", async () => {
    const ref = `${plainReg.host}/zstd/app:1`;
    expect((await minid(src, ["tag", "app:1", ref])).code).toBe(0);
    const r = await minid(src, ["push", "--compression-format", "zstd", "--compression-level", "9", ref]);
    expect(r.code).toBe(0);
    const raw = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]).out);
    expect(raw.layers.map((l: any) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar+zstd"]);
    for (const l of raw.layers) {
      const blob = await fetchBlob("zstd/app", l.digest);
      expect(Buffer.from(blob.subarray(0, 4)).readUInt32BE(0)).toBe(0x28b52ffd);
    }
    // skopeo copies it back; the config's diff_ids are the local image's layers
    const oci = join(work, "zstd-oci");
    expect(skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${oci}:x`]).code).toBe(0);
    const index = JSON.parse(readFileSync(join(oci, "index.json"), "utf8"));
    const man = JSON.parse(readFileSync(join(oci, "blobs", "sha256", index.manifests[0].digest.slice(7)), "utf8"));
    const cfg = JSON.parse(readFileSync(join(oci, "blobs", "sha256", man.config.digest.slice(7)), "utf8"));
    expect(cfg.rootfs.diff_ids).toEqual(JSON.parse((await minid(src, ["image", "inspect", "app:1"])).stdout)[0].RootFS.Layers);
    const fresh = newRoot("zstd-pull");
    expect((await minid(fresh, ["run", "--rm", ref, "cat", "/f"])).stdout).toBe("compressed\n");
    // bad values: one line, exit 1, nothing sent
    for (const bad of [["--compression-format", "lz4"], ["--compression-level", "99"], ["--compression-format", "zstd", "--compression-level", "0"]]) {
      oneLine(await minid(src, ["push", ...bad, ref]));
    }
  });

  it("a stored layer whose bytes no longer match its DiffID is not pushed", async () => {
    const root = newRoot("corrupt");
    expect((await minid(root, ["run", "--name", "c", "busybox", "sh", "-c", "echo original-content > /g"])).code).toBe(0);
    expect((await minid(root, ["commit", "c", "bad:1"])).code).toBe(0);
    const top = JSON.parse((await minid(root, ["image", "inspect", "bad:1"])).stdout)[0].RootFS.Layers.at(-1) as string;
    const blob = join(root, "image", "blobs", "sha256", top.slice(7)); // stored uncompressed: named by its DiffID
    const bytes = readFileSync(blob);
    const at = bytes.indexOf("original-content");
    expect(at).toBeGreaterThan(0);
    bytes[at] = "X".charCodeAt(0);
    writeFileSync(blob, bytes);
    const ref = `${plainReg.host}/corrupt/bad:1`;
    expect((await minid(root, ["tag", "bad:1", ref])).code).toBe(0);
    const before = uploads(plainReg).length;
    const r = await minid(root, ["push", ref]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`layer ${top} in the store is corrupt`);
    // busybox's layer (sent as stored) may have gone up; the corrupt one never
    const busyboxBlob = encodeURIComponent(sha(readFileSync(BUSYBOX_TGZ)));
    expect(uploads(plainReg).slice(before).filter((q) => q.method === "PUT" && q.path.includes("/corrupt/") && !q.path.endsWith(busyboxBlob))).toEqual([]);
    expect(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]).code).not.toBe(0);
  });

  it("an image pulled as Docker schema 2 is pushed as Docker schema 2", async () => {
    const archive = join(work, "bb.tar");
    expect((await minid(src, ["save", "-o", archive, "busybox"])).code).toBe(0);
    const d = skopeo(["copy", "--quiet", "--dest-tls-verify=false", "--format", "v2s2", `docker-archive:${archive}`, `docker://${plainReg.host}/v2s2/bb:1`]);
    expect(d.err).toBe("");
    const root = newRoot("v2s2");
    expect((await minid(root, ["pull", "-q", `${plainReg.host}/v2s2/bb:1`])).code).toBe(0);
    expect((await minid(root, ["tag", `${plainReg.host}/v2s2/bb:1`, `${plainReg.host}/v2s2/copy:1`])).code).toBe(0);
    expect((await minid(root, ["push", `${plainReg.host}/v2s2/copy:1`])).code).toBe(0);
    const raw = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${plainReg.host}/v2s2/copy:1`]).out);
    expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(raw.layers[0].mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
  });
});
