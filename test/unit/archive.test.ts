// Image archive parsing (save/load), whiteout-aware tree diffs and commit's mount-point rules.
import { describe, expect, test, afterAll } from "bun:test";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import {
  existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entry, tar } from "../helpers/tar-craft.ts";
import { indexArchive, resolveLinkTarget, safeArchivePath } from "../../src/image/archive.ts";
import { digestFromName, nameFromAnnotations, parseDockerManifest, parseOciIndex } from "../../src/image/load.ts";
import { diffTree, mergedChildren } from "../../src/image/diff.ts";
import { lowerExists, mountArtifacts, commitConfig } from "../../src/image/commit.ts";
import { UserError } from "../../src/util/errors.ts";
import { AT_FDCWD, S_IFCHR, lsetxattr, mknodat } from "../../src/linux/libc.ts";

const base = mkdtempSync(join(tmpdir(), "minid-archive-unit-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(base, `d${++n}`);
const sha = (b: string | Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
async function* once(b: Buffer) {
  yield b;
}
async function* chunked(b: Buffer, size: number) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
const isRoot = process.getuid?.() === 0;

describe("archive entry names", () => {
  test("normalises harmless spellings", () => {
    expect(safeArchivePath("./a//b/./c")).toBe("a/b/c");
    expect(safeArchivePath("manifest.json")).toBe("manifest.json");
    expect(safeArchivePath("blobs/sha256/")).toBe("blobs/sha256");
  });
  test("refuses absolute and climbing names", () => {
    for (const bad of ["/etc/passwd", "../x", "a/../../x", "a/..", ".."]) {
      expect(() => safeArchivePath(bad)).toThrow(UserError);
    }
  });
  test("link targets resolve inside the archive or fail", () => {
    expect(resolveLinkTarget("abc/layer.tar", "../def/layer.tar", false)).toBe("def/layer.tar");
    expect(resolveLinkTarget("abc/layer.tar", "blobs/sha256/x", true)).toBe("blobs/sha256/x");
    expect(() => resolveLinkTarget("abc/layer.tar", "../../etc/passwd", false)).toThrow(UserError);
    expect(() => resolveLinkTarget("a", "/etc/passwd", false)).toThrow(UserError);
  });
});

describe("indexArchive", () => {
  test("keeps regular files with digests, resolves symlinks and hardlinks", async () => {
    const t = tar(
      entry({ name: "dir/", type: "5", mode: 0o755 }),
      entry({ name: "dir/a", data: "hello" }),
      entry({ name: "other/layer.tar", type: "2", linkname: "../dir/a" }),
      entry({ name: "hard", type: "1", linkname: "dir/a" }),
      entry({ name: "fifo", type: "6" }),
    );
    const ix = await indexArchive(chunked(t, 100), fresh());
    expect(ix.get("dir/a")!.digest).toBe(sha("hello"));
    expect(ix.get("./dir/a")!.size).toBe(5);
    expect(readFileSync(ix.get("other/layer.tar")!.path, "utf8")).toBe("hello");
    expect(ix.get("hard")!.digest).toBe(sha("hello"));
    expect(ix.get("fifo")).toBeUndefined();
    expect(ix.get("../dir/a")).toBeUndefined();
    ix.cleanup();
    expect(existsSync(ix.dir)).toBe(false);
  });
  test("gzip input", async () => {
    const t = gzipSync(tar(entry({ name: "manifest.json", data: "[]" })));
    const ix = await indexArchive(once(t), fresh());
    expect(ix.json("manifest.json")).toEqual([]);
  });
  test.each([
    ["absolute name", tar(entry({ name: "/etc/evil", data: "x" })), /absolute/],
    ["climbing name", tar(entry({ name: "a/../../evil", data: "x" })), /outside/],
    ["symlink out", tar(entry({ name: "l", type: "2", linkname: "../../etc/passwd" })), /outside/],
    ["absolute symlink", tar(entry({ name: "l", type: "2", linkname: "/etc/passwd" })), /absolute/],
    ["truncated", tar(entry({ name: "big", data: Buffer.alloc(4096, 1) })).subarray(0, 2048), /truncated/],
    ["not a tar", Buffer.from("hello world, this is not a tar archive\n".repeat(40)), /not a tar|invalid/i],
    ["empty", Buffer.alloc(0), /empty|not a tar/],
    ["truncated gzip", gzipSync(tar(entry({ name: "a", data: Buffer.alloc(100000, 7) }))).subarray(0, 60), /truncated|unexpected/],
  ])("rejects %s with one line", async (_what, data, re) => {
    const dir = fresh();
    const err = await indexArchive(once(data as Buffer), dir).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(re as RegExp);
    expect(err.message).not.toContain("\n");
    expect(existsSync(dir)).toBe(false);
  });
});

describe("manifests", () => {
  const h = "a".repeat(64);
  test("docker manifest.json, legacy and 25+", () => {
    const imgs = parseDockerManifest([
      { Config: `${h}.json`, RepoTags: ["busybox:latest"], Layers: ["x/layer.tar"] },
      { Config: `blobs/sha256/${h}`, RepoTags: null, Layers: [`blobs/sha256/${"b".repeat(64)}`] },
    ]);
    expect(imgs[0]!.configDigest).toBe(`sha256:${h}`);
    expect(imgs[0]!.layerDigests).toEqual([undefined]);
    expect(imgs[1]!.tags).toEqual([]);
    expect(imgs[1]!.layerDigests).toEqual([`sha256:${"b".repeat(64)}`]);
    expect(digestFromName("foo.json")).toBeUndefined();
  });
  test("malformed manifest.json", () => {
    expect(() => parseDockerManifest({})).toThrow(/not a list/);
    expect(() => parseDockerManifest([{ Config: 1 }])).toThrow(/Config and Layers/);
  });
  test("OCI index: nested index picks linux/amd64, tags from annotations, duplicates merge", () => {
    const cfg = `sha256:${"c".repeat(64)}`;
    const layer = `sha256:${"d".repeat(64)}`;
    const man = `sha256:${"1".repeat(64)}`;
    const arm = `sha256:${"2".repeat(64)}`;
    const idx = `sha256:${"3".repeat(64)}`;
    const blobs: Record<string, unknown> = {
      [man]: { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: cfg }, layers: [{ digest: layer }] },
      [arm]: { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: cfg }, layers: [] },
      [idx]: {
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { digest: arm, platform: { os: "linux", architecture: "arm64" } },
          { digest: man, platform: { os: "linux", architecture: "amd64" } },
        ],
      },
    };
    const imgs = parseOciIndex(
      {
        manifests: [
          { digest: idx, mediaType: "application/vnd.oci.image.index.v1+json", annotations: { "io.containerd.image.name": "docker.io/library/a:1" } },
          { digest: man, mediaType: "application/vnd.oci.image.manifest.v1+json", annotations: { "org.opencontainers.image.ref.name": "b:2" } },
          { digest: man, mediaType: "application/vnd.oci.image.manifest.v1+json", annotations: { "org.opencontainers.image.ref.name": "latest" } },
        ],
      },
      (d) => blobs[d],
    );
    expect(imgs.length).toBe(1);
    // a tag-only ref.name is read as podman reads it: a repository, tag latest
    expect(imgs[0]!.tags).toEqual(["docker.io/library/a:1", "b:2", "latest:latest"]);
    expect(imgs[0]!.layers).toEqual([`blobs/sha256/${"d".repeat(64)}`]);
    expect(nameFromAnnotations({ "org.opencontainers.image.ref.name": "2" })).toBe("2:latest");
    expect(nameFromAnnotations({ "org.opencontainers.image.ref.name": "Not a reference!" })).toBeUndefined();
    expect(nameFromAnnotations({ "io.containerd.image.name": "docker.io/library/a:1", "org.opencontainers.image.ref.name": "1" })).toBe("docker.io/library/a:1");
  });
  test("OCI index without manifests", () => {
    expect(() => parseOciIndex({}, () => undefined)).toThrow(/no manifests/);
  });
});

describe.skipIf(!isRoot)("whiteout-aware diff (root: 0/0 devices, trusted xattrs)", () => {
  const whiteout = (p: string) => mknodat(AT_FDCWD, p, S_IFCHR, 0);
  const opaque = (p: string) => lsetxattr(p, "trusted.overlay.opaque", Buffer.from("y"));
  const tree = (root: string, files: Record<string, string | null>) => {
    for (const [rel, data] of Object.entries(files)) {
      const p = join(root, rel);
      if (rel.endsWith("/")) mkdirSync(p, { recursive: true });
      else {
        mkdirSync(join(p, ".."), { recursive: true });
        if (data === null) whiteout(p);
        else writeFileSync(p, data);
      }
    }
  };

  test("mergedChildren honours whiteouts, opaque dirs and files hiding dirs", () => {
    const l1 = fresh();
    const l2 = fresh();
    tree(l1, { "a/x": "1", "a/y": "1", "b/z": "1", "c/q": "1", "gone": "1" });
    tree(l2, { "a/y": "2", "b/w": "2", "c": "file", "gone": null });
    opaque(join(l2, "b"));
    const top = mergedChildren([l2, l1]);
    expect([...top.keys()].sort()).toEqual(["a", "b", "c"]);
    expect(top.get("c")!.st.isFile()).toBe(true);
    expect(top.get("a")!.sources).toEqual([join(l2, "a"), join(l1, "a")]);
    expect(top.get("b")!.sources).toEqual([join(l2, "b")]);
    expect([...mergedChildren(top.get("b")!.sources).keys()]).toEqual(["w"]);
    const exists = lowerExists([l1, l2]);
    expect(exists("a/x")).toBe(true);
    expect(exists("b/z")).toBe(false); // under an opaque dir
    expect(exists("b/w")).toBe(true);
    expect(exists("gone")).toBe(false);
    expect(exists("c/q")).toBe(false); // c became a file
  });

  test("diffTree: added, modified, chmod, deleted, symlink; unchanged entries left out", () => {
    const l1 = fresh();
    tree(l1, { "etc/keep": "same", "etc/mod": "old", "etc/perm": "p", "del/sub/f": "x", "gone": "g" });
    const stamp = new Date(1_600_000_000_000);
    for (const p of ["etc/keep", "etc/mod", "etc/perm", "del/sub/f", "gone", "etc", "del/sub", "del"]) utimesSync(join(l1, p), stamp, stamp);
    utimesSync(l1, stamp, stamp);
    // The full tree: a copy with changes.
    const full = fresh();
    tree(full, { "etc/keep": "same", "etc/mod": "new!", "etc/perm": "p", "new/file": "n" });
    for (const p of ["etc/keep", "etc/perm", "etc"]) utimesSync(join(full, p), stamp, stamp);
    utimesSync(full, stamp, stamp);
    Bun.spawnSync(["chmod", "4755", join(full, "etc/perm")]);
    symlinkSync("/etc/keep", join(full, "abs"));
    const out = fresh();
    const stats = diffTree(full, [l1], out);
    const list = (d: string, pre = ""): string[] =>
      readdirSync(d).flatMap((n) => {
        const p = join(d, n);
        const st = lstatSync(p);
        const tag = st.isCharacterDevice() ? " (whiteout)" : "";
        return [`${pre}${n}${tag}`, ...(st.isDirectory() ? list(p, `${pre}${n}/`) : [])];
      });
    expect(list(out).sort()).toEqual(["abs", "del (whiteout)", "etc", "etc/mod", "etc/perm", "gone (whiteout)", "new", "new/file"].sort());
    expect(lstatSync(join(out, "etc/perm")).mode & 0o7777).toBe(0o4755);
    expect(stats.deleted).toBe(2);
  });

  test("mountArtifacts: empty mount-point files and dirs the image lacks", () => {
    const l1 = fresh();
    tree(l1, { "etc/passwd": "root", "proc/": "" });
    const upper = fresh();
    tree(upper, { "etc/hosts": "", "etc/hostname": "", "etc/resolv.conf": "nameserver 1.1.1.1\n", "data/vol/": "", "sys/": "", "mnt/keep/x": "1", "cfg/app.conf": "", "cfg2/full.conf": "x" });
    const skip = mountArtifacts(upper, ["data/vol", "mnt/keep", "cfg/app.conf", "cfg2/full.conf"], lowerExists([l1]));
    expect([...skip].sort()).toEqual(["cfg", "cfg/app.conf", "data", "data/vol", "etc/hostname", "etc/hosts", "sys"]);
  });
});

describe("commit config", () => {
  test("container settings win, runtime-only variables do not leak in", () => {
    const st: any = {
      path: "sh",
      args: ["-c", "x"],
      config: { env: ["PATH=/bin", "HOSTNAME=abc", "HOME=/root", "TERM=xterm", "FOO=bar"], cwd: "/", tty: true, cmd: ["sh", "-c", "x"], entrypoint: null },
    };
    const cfg = commitConfig({ Env: ["PATH=/bin"], Cmd: ["sh"] }, st);
    expect(cfg.Env).toEqual(["PATH=/bin", "FOO=bar"]);
    expect(cfg.Cmd).toEqual(["sh", "-c", "x"]);
    expect(cfg.WorkingDir).toBeUndefined();
    expect(cfg.Entrypoint).toBeNull();
  });
});



