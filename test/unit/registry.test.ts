// Registry client pieces that need no network: WWW-Authenticate parsing, reference → URL
// mapping, index platform selection, manifest validation, push manifests, saved credentials.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { parseChallenges, pickChallenge } from "../../src/image/registry/challenge.ts";
import { endpointFor, insecureList, isInsecure, manifestRef, manifestUrl, blobUrl, normalizeRegistry } from "../../src/image/registry/endpoint.ts";
import { parseManifest, selectPlatform, parsePlatform, type ImageIndex, ACCEPT_MANIFESTS } from "../../src/image/registry/manifest.ts";
import { parseReference } from "../../src/image/reference.ts";
import { bar, hsize } from "../../src/image/registry/progress.ts";
import { buildManifest } from "../../src/image/push.ts";
import { getCredentials, removeCredentials, storeCredentials, authFile } from "../../src/image/auth.ts";
import { fullName } from "../../src/image/pull.ts";
import { isTransient } from "../../src/image/registry/client.ts";

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe("WWW-Authenticate", () => {
  test("Docker Hub's Bearer challenge", () => {
    const h = `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`;
    expect(parseChallenges(h)).toEqual([
      {
        scheme: "bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" },
      },
    ]);
  });

  test("quoted commas, escapes, spaces and unquoted values", () => {
    const h = `Bearer  realm = "https://a/token" , scope="repository:a/b:pull,push", error=insufficient_scope, x="q\\"uote"`;
    const [c] = parseChallenges(h);
    expect(c!.params).toEqual({ realm: "https://a/token", scope: "repository:a/b:pull,push", error: "insufficient_scope", x: 'q"uote' });
  });

  test("several challenges in one header; Bearer preferred over Basic", () => {
    const h = `Basic realm="Registry Realm", Bearer realm="https://t/token",service="s"`;
    const all = parseChallenges(h);
    expect(all.map((c) => c.scheme)).toEqual(["basic", "bearer"]);
    expect(all[0]!.params.realm).toBe("Registry Realm");
    expect(pickChallenge(h)!.scheme).toBe("bearer");
    expect(pickChallenge(`Basic realm="r"`)!.scheme).toBe("basic");
    expect(pickChallenge(`Negotiate abc==`)).toBeUndefined();
  });

  test("case-insensitive scheme and parameter names; token68", () => {
    expect(parseChallenges(`BEARER Realm="r"`)).toEqual([{ scheme: "bearer", params: { realm: "r" } }]);
    expect(parseChallenges(`Negotiate abc==, Basic realm="x"`)).toEqual([
      { scheme: "negotiate", params: { token68: "abc==" } },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });

  test("empty, missing and garbage headers", () => {
    expect(parseChallenges(null)).toEqual([]);
    expect(parseChallenges("")).toEqual([]);
    expect(parseChallenges(`Bearer`)).toEqual([{ scheme: "bearer", params: {} }]);
    expect(() => parseChallenges(`"""===,,,`)).not.toThrow();
    expect(parseChallenges(`Bearer realm="unterminated`)[0]!.params.realm).toBe("unterminated");
  });
});

describe("reference → registry URL", () => {
  test("Docker Hub short names use registry-1.docker.io over https", () => {
    const ref = parseReference("busybox");
    expect(ref).toEqual({ registry: "docker.io", repository: "library/busybox", tag: "latest", digest: undefined });
    const ep = endpointFor(ref.registry);
    expect(ep).toEqual({ registry: "docker.io", base: "https://registry-1.docker.io", secure: true, httpFallback: false, verify: true });
    expect(manifestUrl(ep, ref.repository, manifestRef(ref))).toBe("https://registry-1.docker.io/v2/library/busybox/manifests/latest");
    expect(fullName(ref)).toBe("docker.io/library/busybox:latest");
    expect(endpointFor("index.docker.io").base).toBe("https://registry-1.docker.io");
  });

  test("user repositories on the Hub, digests, other registries", () => {
    const r = parseReference("someone/app@sha256:" + "a".repeat(64));
    expect(r.repository).toBe("someone/app");
    expect(manifestRef(r)).toBe(D("a"));
    expect(fullName(r)).toBe(`docker.io/someone/app@${D("a")}`);
    const q = parseReference("quay.io/org/tool:v1");
    const ep = endpointFor(q.registry);
    expect(ep.base).toBe("https://quay.io");
    expect(blobUrl(ep, q.repository, D("b"))).toBe(`https://quay.io/v2/org/tool/blobs/${D("b")}`);
  });

  test("https first for every registry; plain http only as the fallback for loopback and named insecure registries", () => {
    const fb = (r: string, insecure: string[] = [], verify = true) => {
      const e = endpointFor(r, insecure, verify);
      return `${e.base} fallback=${e.httpFallback} verify=${e.verify}`;
    };
    expect(fb("localhost:5000")).toBe("https://localhost:5000 fallback=true verify=true");
    expect(fb("127.0.0.1:5000")).toBe("https://127.0.0.1:5000 fallback=true verify=true");
    expect(fb("[::1]:5000")).toBe("https://[::1]:5000 fallback=true verify=true");
    expect(fb("registry.local:5000")).toBe("https://registry.local:5000 fallback=false verify=true");
    expect(fb("registry.local:5000", ["registry.local:5000"])).toBe("https://registry.local:5000 fallback=true verify=false");
    expect(fb("registry.local:5000", ["registry.local"])).toBe("https://registry.local:5000 fallback=true verify=false"); // host covers all ports
    expect(fb("registry.local:5000", ["registry.local:6000"])).toBe("https://registry.local:5000 fallback=false verify=true");
    expect(fb("10.0.0.5:5000", ["10.0.0.5:5000"])).toBe("https://10.0.0.5:5000 fallback=true verify=false");
    expect(fb("quay.io", [], false)).toBe("https://quay.io fallback=true verify=false");
    expect(isInsecure("128.0.0.1:80", [])).toBe(false);
    expect(isInsecure("localhost.example.com", [])).toBe(false);
  });

  test("MINID_INSECURE_REGISTRIES adds to the flags", () => {
    expect(insecureList(["a:1"], "b:2, c:3 d")).toEqual(["a:1", "b:2", "c:3", "d"]);
    expect(insecureList([], undefined)).toEqual([]);
  });

  test("registry names for login are normalised", () => {
    expect(normalizeRegistry("https://index.docker.io/v1/")).toBe("docker.io");
    expect(normalizeRegistry("registry-1.docker.io")).toBe("docker.io");
    expect(normalizeRegistry("HTTP://LocalHost:5000/")).toBe("localhost:5000");
    expect(normalizeRegistry("quay.io")).toBe("quay.io");
  });

  test("the Accept header lists all four manifest types", () => {
    for (const t of [
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
    ])
      expect(ACCEPT_MANIFESTS).toContain(t);
  });
});

describe("index platform selection", () => {
  const m = (arch: string, variant?: string, extra: object = {}, os = "linux") => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: D(String((arch + (variant ?? "")).length % 10)),
    size: 100,
    platform: { os, architecture: arch, ...(variant ? { variant } : {}) },
    ...extra,
  });
  const idx = (...manifests: any[]): ImageIndex => ({ schemaVersion: 2, manifests });

  test("picks linux/amd64 among several", () => {
    const amd = { ...m("amd64"), digest: D("1") };
    const i = idx({ ...m("arm64", "v8"), digest: D("2") }, amd, { ...m("s390x"), digest: D("3") }, { ...m("amd64", undefined, {}, "windows"), digest: D("4") });
    expect(selectPlatform(i, { os: "linux", architecture: "amd64" })!.digest).toBe(D("1"));
  });

  test("nothing for the wanted platform → undefined", () => {
    expect(selectPlatform(idx(m("arm64", "v8"), m("arm", "v7")), { os: "linux", architecture: "amd64" })).toBeUndefined();
    expect(selectPlatform(idx(), { os: "linux", architecture: "amd64" })).toBeUndefined();
  });

  test("attestation manifests and entries without platform never match", () => {
    const att = { ...m("amd64"), digest: D("5"), annotations: { "vnd.docker.reference.type": "attestation-manifest" } };
    const noPlat = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: D("6"), size: 1 };
    const unknown = { ...m("unknown", undefined, {}, "unknown"), digest: D("7") };
    expect(selectPlatform(idx(att, noPlat, unknown), { os: "linux", architecture: "amd64" })).toBeUndefined();
    expect(selectPlatform(idx(att, { ...m("amd64"), digest: D("8") }), { os: "linux", architecture: "amd64" })!.digest).toBe(D("8"));
  });

  test("variants: arm64 v8 is the default; amd64 v1 too; exact variant preferred", () => {
    const a64 = { ...m("arm64"), digest: D("a") };
    const a64v8 = { ...m("arm64", "v8"), digest: D("b") };
    expect(selectPlatform(idx(a64v8), { os: "linux", architecture: "arm64", variant: "v8" })!.digest).toBe(D("b"));
    expect(selectPlatform(idx(a64), { os: "linux", architecture: "arm64", variant: "v8" })!.digest).toBe(D("a"));
    const v6 = { ...m("arm", "v6"), digest: D("c") };
    const v7 = { ...m("arm", "v7"), digest: D("d") };
    expect(selectPlatform(idx(v6, v7), { os: "linux", architecture: "arm", variant: "v7" })!.digest).toBe(D("d"));
    const amdv1 = { ...m("amd64", "v1"), digest: D("e") };
    const amdv3 = { ...m("amd64", "v3"), digest: D("f") };
    expect(selectPlatform(idx(amdv3, amdv1), { os: "linux", architecture: "amd64" })!.digest).toBe(D("e"));
    expect(selectPlatform(idx(amdv3), { os: "linux", architecture: "amd64" })).toBeUndefined();
  });

  test("Docker manifest lists work the same", () => {
    const list = {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
      manifests: [
        { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: D("1"), size: 5, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: D("2"), size: 5, platform: { os: "linux", architecture: "amd64" } },
      ],
    };
    const p = parseManifest(new TextEncoder().encode(JSON.stringify(list)), "application/vnd.docker.distribution.manifest.list.v2+json");
    expect(p.kind).toBe("index");
    if (p.kind === "index") expect(selectPlatform(p.index, { os: "linux", architecture: "amd64" })!.digest).toBe(D("2"));
  });

  test("--platform parsing", () => {
    expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(parsePlatform("linux/amd64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(() => parsePlatform("linux")).toThrow(/invalid platform/);
  });
});

describe("manifest validation", () => {
  const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  const good = {
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: D("c"), size: 10 },
    layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: D("1"), size: 5 }],
  };
  test("accepts Docker schema 2 and OCI (with or without mediaType)", () => {
    expect(parseManifest(enc(good), null).kind).toBe("manifest");
    const oci = { schemaVersion: 2, config: { ...good.config, mediaType: "application/vnd.oci.image.config.v1+json" }, layers: [] };
    const p = parseManifest(enc(oci), "application/vnd.oci.image.manifest.v1+json");
    expect(p.kind === "manifest" && p.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), "application/json").kind).toBe("index");
  });
  test("refuses schema 1, artifacts, bad digests, foreign layers, non-JSON", () => {
    expect(() => parseManifest(enc({ schemaVersion: 1, name: "x" }), "application/vnd.docker.distribution.manifest.v1+prettyjws")).toThrow(/schema 1/);
    expect(() => parseManifest(enc({ ...good, config: { ...good.config, mediaType: "application/vnd.cncf.helm.config.v1+json" } }), null)).toThrow(
      /not a container image/,
    );
    expect(() => parseManifest(enc({ ...good, layers: [{ ...good.layers[0], digest: "sha512:abc" }] }), null)).toThrow(/digest/);
    expect(() => parseManifest(enc({ ...good, layers: [{ ...good.layers[0], size: -1 }] }), null)).toThrow(/size/);
    expect(() =>
      parseManifest(enc({ ...good, layers: [{ ...good.layers[0], mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" }] }), null),
    ).toThrow(/unsupported layer/);
    expect(() => parseManifest(new TextEncoder().encode("<html>"), "text/html")).toThrow(/not JSON/);
    expect(() => parseManifest(enc({ schemaVersion: 2, mediaType: "application/x-other" }), null)).toThrow(/unsupported manifest media type/);
  });
});

describe("push manifests", () => {
  const cfg = { digest: D("c"), size: 42 };
  test("Docker layers → Docker schema 2; the bytes decide the layer type", () => {
    const { body, mediaType } = buildManifest([{ digest: D("1"), size: 5, mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", compression: "gzip" }], cfg);
    expect(mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const doc = JSON.parse(new TextDecoder().decode(body));
    expect(doc.config).toEqual({ mediaType: "application/vnd.docker.container.image.v1+json", ...cfg });
    expect(doc.layers[0].mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
  });
  test("OCI, mixed, or zstd → OCI manifest with OCI layer types", () => {
    const { body, mediaType } = buildManifest(
      [
        { digest: D("1"), size: 5, mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", compression: "gzip" },
        { digest: D("2"), size: 6, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", compression: "zstd" },
        { digest: D("3"), size: 7, mediaType: "application/vnd.oci.image.layer.v1.tar", compression: "none" },
      ],
      cfg,
    );
    expect(mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    const doc = JSON.parse(new TextDecoder().decode(body));
    expect(doc.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(doc.layers.map((l: any) => l.mediaType)).toEqual([
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.v1.tar",
    ]);
  });
});

describe("saved credentials", () => {
  test("stored 0600 in <root>/auth.json, per normalised registry, removable", () => {
    const root = mkdtempSync(join(tmpdir(), "minid-auth-"));
    try {
      expect(getCredentials(root, "localhost:5000")).toBeUndefined();
      storeCredentials(root, "https://index.docker.io/v1/", { username: "u", password: "p:w" });
      storeCredentials(root, "localhost:5000", { username: "a", password: "b" });
      expect(statSync(authFile(root)).mode & 0o777).toBe(0o600);
      expect(getCredentials(root, "docker.io")).toEqual({ username: "u", password: "p:w" });
      expect(getCredentials(root, "LOCALHOST:5000")).toEqual({ username: "a", password: "b" });
      const doc = JSON.parse(readFileSync(authFile(root), "utf8"));
      expect(doc.auths["docker.io"].auth).toBe(Buffer.from("u:p:w").toString("base64"));
      expect(removeCredentials(root, "docker.io")).toBe(true);
      expect(removeCredentials(root, "docker.io")).toBe(false);
      expect(getCredentials(root, "docker.io")).toBeUndefined();
      expect(getCredentials(root, "localhost:5000")).toBeDefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("progress formatting and error classes", () => {
  test("sizes and bars like Docker's", () => {
    expect(hsize(0)).toBe("0B");
    expect(hsize(999)).toBe("999B");
    expect(hsize(1035938)).toBe("1.036MB");
    expect(hsize(52_400_000)).toBe("52.4MB");
    expect(bar(0, 10)).toBe(`[>${" ".repeat(49)}]`);
    expect(bar(5, 10)).toBe(`[${"=".repeat(25)}>${" ".repeat(24)}]`);
    expect(bar(10, 10)).toBe(`[${"=".repeat(50)}]`);
  });
  test("dropped connections are transient, refusals are not", () => {
    expect(isTransient(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toBe(true);
    expect(isTransient(new Error("The socket connection was closed unexpectedly"))).toBe(true);
    expect(isTransient(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe(false);
  });
});
