import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { spawnSync } from "bun";
import { applyLayer, LayerError, type ApplyLimits } from "../../src/image/layer-apply.ts";
import { fsat } from "../../src/linux/libc.ts";
import { diffSnapshots, entry, gnuLong, header, pax, snapshot, tar } from "../helpers/tar-craft.ts";

let base: string; // temp dir holding the layer file, dest and an "outside" sentinel tree
let dest: string;
let sentinel: string;

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "minid-layer-apply-"));
  dest = path.join(base, "dest");
  sentinel = path.join(base, "sentinel");
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, "file"), "precious\n");
});

afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

function layerFile(data: Buffer, name = "layer.tar"): string {
  const p = path.join(base, name);
  fs.writeFileSync(p, data);
  return p;
}

const sha256 = (b: Buffer) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

/** Applies a hostile tar and checks: one-line LayerError, dest gone, nothing outside changed. */
async function expectRejected(
  data: Buffer | Parameters<typeof applyLayer>[0],
  pattern: RegExp,
  limits?: ApplyLimits,
): Promise<string> {
  const input = Buffer.isBuffer(data) ? layerFile(data) : data;
  const outside = snapshot(base, { skipRoot: true, skip: (r) => r === "dest" || r === "layer.tar" });
  const shadow = fs.statSync("/etc/shadow", { bigint: true });
  let err: unknown;
  try {
    await applyLayer(input, dest, limits);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LayerError);
  const msg = (err as Error).message;
  expect(msg).toMatch(pattern);
  expect(msg).not.toContain("\n");
  expect(fs.existsSync(dest)).toBe(false);
  expect(diffSnapshots(outside, snapshot(base, { skipRoot: true, skip: (r) => r === "dest" || r === "layer.tar" }))).toBe("");
  const shadow2 = fs.statSync("/etc/shadow", { bigint: true });
  expect([shadow2.nlink, shadow2.mtimeNs, shadow2.ctimeNs]).toEqual([shadow.nlink, shadow.mtimeNs, shadow.ctimeNs]);
  return msg;
}

const file = (name: string, data = "x", extra: object = {}) => entry({ name, data, ...extra });
const dir = (name: string, extra: object = {}) => entry({ name, type: "5", mode: 0o755, ...extra });
const symlink = (name: string, target: string) => entry({ name, type: "2", linkname: target, mode: 0o777 });
const hardlink = (name: string, target: string) => entry({ name, type: "1", linkname: target });

describe("applyLayer: hostile tars", () => {
  test("absolute entry names land inside dest", async () => {
    await applyLayer(layerFile(tar(file("/abs-file", "in"), dir("//etc/"), file("/etc/x", "y"))), dest);
    expect(fs.readFileSync(path.join(dest, "abs-file"), "utf8")).toBe("in");
    expect(fs.readFileSync(path.join(dest, "etc/x"), "utf8")).toBe("y");
    expect(fs.existsSync("/abs-file")).toBe(false);
  });

  test("../ escapes are refused", async () => {
    await expectRejected(tar(file("../escape")), /layer rejected: entry "\.\.\/escape" would escape the layer directory/);
    await expectRejected(tar(file("ok"), file("a/../../escape")), /would escape/);
    await expectRejected(tar(file("/../../sentinel/file", "pwned")), /would escape/);
    await expectRejected(tar(entry({ name: "x", data: "pwned" }), pax([["path", "../sentinel/file"]]), file("y")), /would escape/);
  });

  test("a file through a symlink planted earlier is refused", async () => {
    const msg = await expectRejected(
      tar(symlink("lnk", sentinel), file("lnk/pwned", "pwned")),
      /passes through symlink "lnk"/,
    );
    expect(msg).toStartWith("layer rejected:");
    expect(fs.existsSync(path.join(sentinel, "pwned"))).toBe(false);
    // Relative, climbing variant, and overwriting an existing file outside.
    await expectRejected(tar(symlink("up", "../sentinel"), file("up/file", "pwned")), /passes through symlink "up"/);
    // A directory replaced by a symlink in the same layer, then written through.
    await expectRejected(tar(dir("d/"), file("d/a"), symlink("d", sentinel), file("d/file", "pwned")), /symlink "d"/);
  });

  test("a directory reached through a planted symlink's existing subdirectory is refused", async () => {
    // The parent "lnk/sub" exists through the symlink (sentinel/sub), so only the refusal to
    // follow symlinks anywhere on the way (not just at the last component) keeps it out.
    fs.mkdirSync(path.join(sentinel, "sub"));
    await expectRejected(tar(symlink("lnk", sentinel), file("lnk/sub/pwned", "pwned")), /symlink "lnk"/);
    await expectRejected(tar(symlink("up", "../sentinel"), dir("up/sub/new/")), /symlink "up"/);
    expect(fs.readdirSync(path.join(sentinel, "sub"))).toEqual([]);
  });

  test("a NUL inside a PAX name or link target is refused, not truncated", async () => {
    await expectRejected(tar(pax([["path", Buffer.from("evil\0/../x")]]), file("y")), /has a NUL in its name/);
    await expectRejected(tar(pax([["linkpath", Buffer.from("t\0x")]]), symlink("s", "t")), /has a NUL in its name/);
  });

  test("a symlink to / then a directory through it is refused", async () => {
    try {
      await expectRejected(tar(symlink("root", "/"), dir("root/etc/minid-evil/")), /passes through symlink "root"/);
    } finally {
      // A broken build (e.g. under `npm run mutate`) makes this directory on the host: take it
      // away again, so the failure is reported once and the host stays clean.
      const escaped = fs.existsSync("/etc/minid-evil");
      if (escaped) fs.rmdirSync("/etc/minid-evil");
      expect(escaped).toBe(false);
    }
  });

  test("hardlinks to /etc/shadow, ../outside or through a symlink are refused", async () => {
    await expectRejected(tar(hardlink("shadow", "/etc/shadow")), /hardlink "shadow" -> "\/etc\/shadow" does not point at an earlier entry/);
    await expectRejected(tar(hardlink("hl", "../sentinel/file")), /hardlink "hl" -> "\.\.\/sentinel\/file" would escape/);
    await expectRejected(tar(symlink("lnk", sentinel), hardlink("hl", "lnk/file")), /hardlink "hl" -> "lnk\/file" passes through symlink "lnk"/);
    await expectRejected(tar(symlink("etc", "/etc"), hardlink("hl", "etc/shadow")), /symlink "etc"/);
  });

  test("whiteouts of . and .. are refused", async () => {
    await expectRejected(tar(file(".wh..", "")), /whiteout "\.wh\.\." does not name a file/);
    await expectRejected(tar(dir("a/"), file("a/.wh...", "")), /whiteout "a\/\.wh\.\.\." does not name a file/);
    await expectRejected(tar(file("../.wh.sentinel", "")), /would escape/);
  });

  test("a 10 GB size claim with little data fails fast", async () => {
    const claim = Buffer.concat([header({ name: "huge", size: 10_000_000_000 }), Buffer.alloc(4096, 1)]);
    let t = performance.now();
    await expectRejected(claim, /archive is truncated inside entry "huge"/);
    expect(performance.now() - t).toBeLessThan(2000);
    // Under a lower limit it is refused from the header alone: the stream below never ends.
    const hanging = new Readable({ read() {} });
    hanging.push(claim);
    t = performance.now();
    await expectRejected(
      hanging,
      /entry "huge" at byte 0 declares 10000000000 bytes, more than the layer size limit of 1073741824 bytes/,
      { maxBytes: 2 ** 30 },
    );
    expect(performance.now() - t).toBeLessThan(2000);
    hanging.destroy();
    // The same claim through a PAX size record.
    await expectRejected(tar(pax([["size", "10000000000"]]), header({ name: "huge" })), /declares 10000000000 bytes/, {
      maxBytes: 2 ** 30,
    });
  });

  test("a gzip bomb is stopped by the expansion ratio", async () => {
    const bomb = zlib.gzipSync(Buffer.concat([header({ name: "zeros", size: 96 << 20 }), Buffer.alloc(96 << 20)]), { level: 9 });
    const t = performance.now();
    await expectRejected(layerFile(bomb, "layer.tar"), /gzip data expands more than 1000:1/);
    expect(performance.now() - t).toBeLessThan(5000);
    // With a size limit, the header's claim alone is enough.
    await expectRejected(bomb, /entry "zeros" at byte 0 declares 100663296 bytes, more than the layer size limit/, {
      maxBytes: 4 << 20,
    });
    // Bytes after the end-of-archive marker count too.
    await expectRejected(
      zlib.gzipSync(Buffer.concat([tar(file("a")), Buffer.alloc(8 << 20)])),
      /uncompressed size exceeds the limit of 4194304 bytes/,
      { maxBytes: 4 << 20 },
    );
  });

  test("too many entries", async () => {
    const files = Array.from({ length: 11 }, (_, i) => file(`f${i}`));
    await expectRejected(tar(...files), /layer has more than 10 entries/, { maxEntries: 10 });
    await applyLayer(layerFile(tar(...files.slice(0, 10))), dest, { maxEntries: 10 });
  });

  test("truncated and corrupt archives", async () => {
    const good = tar(dir("d/"), file("d/big", "z".repeat(5000)), file("d/after"));
    await expectRejected(good.subarray(0, 1024 + 700), /archive is truncated inside entry "d\/big" at byte 1724/);
    await expectRejected(good.subarray(0, 512 + 100), /archive is truncated at byte 612$/);
    await expectRejected(zlib.gzipSync(good).subarray(0, 60), /corrupt gzip data/);
    const bad = Buffer.from(good);
    bad[512] ^= 1; // name byte of the second header
    await expectRejected(bad, /invalid tar header checksum at byte 512/);
    await expectRejected(Buffer.from("this is not a tar file".repeat(40)), /invalid tar header checksum at byte 0 \(not a tar archive\?\)/);
    await expectRejected(tar(entry({ name: "s", type: "S", data: "" })), /entry "s" is a GNU sparse file/);
    await expectRejected(tar(pax([["GNU.sparse.major", "1"]]), file("s2")), /GNU sparse file/);
    await expectRejected(tar(entry({ name: "v", type: "V" })), /unsupported tar type "V"/);
    await expectRejected(tar(file("a"), Buffer.alloc(512), file("b")), /data after an end-of-archive block/);
    await expectRejected(Buffer.concat([pax([["path", "x"]])]), /ends after an extended header/);
  });

  test("an existing destination is refused and left alone", async () => {
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, "keep"), "k");
    await expect(applyLayer(layerFile(tar(file("a"))), dest)).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(path.join(dest, "keep"), "utf8")).toBe("k");
    await expect(applyLayer(path.join(base, "missing.tar"), path.join(base, "d2"))).rejects.toThrow(/cannot open layer/);
    expect(fs.existsSync(path.join(base, "d2"))).toBe(false);
  });

  test("tar-supplied overlay xattrs are not applied", async () => {
    await applyLayer(
      layerFile(tar(pax([["SCHILY.xattr.trusted.overlay.redirect", "/etc"], ["SCHILY.xattr.user.ok", "1"]]), dir("d/"))),
      dest,
    );
    expect(fsat.lgetxattr(path.join(dest, "d"), "trusted.overlay.redirect")).toBeNull();
    expect(fsat.lgetxattr(path.join(dest, "d"), "user.ok")?.toString()).toBe("1");
  });

  test("entries over a planted symlink replace it and never write through it", async () => {
    const outside = snapshot(base, { skipRoot: true, skip: (r) => r === "dest" || r === "layer.tar" });
    const data = tar(
      symlink("f", path.join(sentinel, "file")),
      file("f", "pwned", { mode: 0o4777, uid: 1 }),
      symlink("d", sentinel),
      dir("d/", { mode: 0o777, uid: 2 }),
      symlink("n", path.join(sentinel, "file")),
      entry({ name: "n", type: "6" }),
      symlink("h", path.join(sentinel, "file")),
      file("target", "t"),
      hardlink("h", "target"),
    );
    await applyLayer(layerFile(data), dest);
    expect(fs.readFileSync(path.join(dest, "f"), "utf8")).toBe("pwned");
    expect(fs.lstatSync(path.join(dest, "d")).isDirectory()).toBe(true);
    expect(fs.lstatSync(path.join(dest, "n")).isFIFO()).toBe(true);
    expect(fs.readFileSync(path.join(dest, "h"), "utf8")).toBe("t");
    expect(diffSnapshots(outside, snapshot(base, { skipRoot: true, skip: (r) => r === "dest" || r === "layer.tar" }))).toBe("");
  });

  test("a failing input stream rejects cleanly", async () => {
    const data = tar(file("a", "x".repeat(3000)), file("b"));
    const failing = new Readable({
      read() {
        this.push(data.subarray(0, 1024));
        this.destroy(new Error("connection reset"));
      },
    });
    await expectRejected(failing, /^reading the layer failed: connection reset$/);
  });

  test("rmSync does not follow symlinks out of the tree it removes", () => {
    const t = path.join(base, "t");
    fs.mkdirSync(t);
    fs.symlinkSync(sentinel, path.join(t, "abs"));
    fs.symlinkSync("../sentinel", path.join(t, "rel"));
    fs.rmSync(t, { recursive: true, force: true });
    expect(fs.readFileSync(path.join(sentinel, "file"), "utf8")).toBe("precious\n");
  });
});

// v2 file capability: cap_net_raw (bit 13) permitted + effective.
const CAP_NET_RAW = Buffer.from([0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

describe("applyLayer: fidelity", () => {
  test("owners, special modes, times, links, devices, xattrs, whiteouts, long names", async () => {
    const long = `${"d".repeat(120)}/${"f".repeat(120)}`;
    const data = tar(
      dir("./"),
      dir("bin/", { mtime: 1_000_000_000 }),
      file("bin/su", "su-binary", { mode: 0o4755, uid: 0, gid: 0 }),
      file("bin/wall", "wall", { mode: 0o2755, gid: 5 }),
      hardlink("bin/su2", "bin/su"),
      dir("tmp/", { mode: 0o1777 }),
      file("home/user/f", "mine", { uid: 1000, gid: 1001, mode: 0o600, mtime: 1_234_567_890 }),
      symlink("abs", "/etc/passwd"),
      symlink("climb", "../../../../etc"),
      entry({ name: "dev/null", type: "3", devmajor: 1, devminor: 3, mode: 0o666 }),
      entry({ name: "dev/sda", type: "4", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 }),
      entry({ name: "dev/big", type: "3", devmajor: 300, devminor: 70000 }),
      entry({ name: "run/fifo", type: "6", mode: 0o620 }),
      pax([["SCHILY.xattr.security.capability", CAP_NET_RAW], ["SCHILY.xattr.user.bin", Buffer.from([0, 1, 2, 0xff])]]),
      file("bin/ping", "ping", { mode: 0o755 }),
      pax([["mtime", "1700000000.123456789"], ["atime", "1600000000.5"]]),
      file("nanos", "n"),
      entry({ name: "lnk-old", type: "2", linkname: "target", mtime: 999_999_999 }),
      dir("etc/"),
      file("etc/.wh.gone", "", { uid: 7, gid: 8 }),
      file("opaque/.wh..wh..opq", ""),
      file("opaque/kept"),
      file(".wh..wh.plnk", ""),
      pax([["path", long]]),
      file("ignored-name", "pax long"),
      gnuLong("L", `gnu/${"g".repeat(150)}`),
      gnuLong("K", `/${"t".repeat(150)}`),
      entry({ name: "ignored", type: "2", linkname: "ignored" }),
      entry({ name: "in-prefix", prefix: "some/prefix/dir", data: "p" }),
      entry({ name: "v7dir/", type: "\0", format: "v7" }),
      entry({ name: "gnu-format", format: "gnu", data: "g", mode: 0o640 }),
    );
    const res = await applyLayer(layerFile(data), dest);
    expect(res).toEqual({
      diffId: sha256(data),
      digest: sha256(data),
      compressedSize: data.length,
      size: data.length,
      entries: 26,
      compression: "none",
    });
    const st = (p: string) => fs.lstatSync(path.join(dest, p), { bigint: true });
    const modeOf = (p: string) => Number(st(p).mode & 0o7777n).toString(8);
    expect(modeOf("bin/su")).toBe("4755");
    expect(modeOf("bin/wall")).toBe("2755");
    expect(st("bin/wall").gid).toBe(5n);
    expect(modeOf("tmp")).toBe("1777");
    expect(st("bin/su").ino).toBe(st("bin/su2").ino);
    expect(st("bin/su").nlink).toBe(2n);
    expect([st("home/user/f").uid, st("home/user/f").gid, st("home/user/f").mtimeNs]).toEqual([1000n, 1001n, 1_234_567_890_000_000_000n]);
    expect(modeOf("home/user/f")).toBe("600");
    expect(modeOf("home/user")).toBe("755"); // implicit directory
    expect(st("bin").mtimeNs).toBe(1_000_000_000_000_000_000n); // set after its children
    expect(fs.readlinkSync(path.join(dest, "abs"))).toBe("/etc/passwd");
    expect(fs.readlinkSync(path.join(dest, "climb"))).toBe("../../../../etc");
    expect(st("lnk-old").mtimeNs).toBe(999_999_999_000_000_000n);
    expect(st("dev/null").isCharacterDevice()).toBe(true);
    expect(st("dev/null").rdev).toBe(BigInt((1 << 8) | 3));
    expect(modeOf("dev/null")).toBe("666");
    expect(st("dev/sda").isBlockDevice()).toBe(true);
    expect([st("dev/sda").rdev, st("dev/sda").gid]).toEqual([8n << 8n, 6n]);
    const big = st("dev/big").rdev;
    expect(Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn))).toBe(300);
    expect(Number((big & 0xffn) | ((big >> 12n) & ~0xffn))).toBe(70000);
    expect(st("run/fifo").isFIFO()).toBe(true);
    expect(modeOf("run/fifo")).toBe("620");
    expect(fsat.lgetxattr(path.join(dest, "bin/ping"), "security.capability")).toEqual(CAP_NET_RAW);
    expect(fsat.lgetxattr(path.join(dest, "bin/ping"), "user.bin")).toEqual(Buffer.from([0, 1, 2, 0xff]));
    const getcap = spawnSync(["getcap", path.join(dest, "bin/ping")], { stderr: "pipe" });
    if (getcap.exitCode === 0) expect(getcap.stdout.toString()).toContain("cap_net_raw=ep");
    expect(st("nanos").mtimeNs).toBe(1_700_000_000_123_456_789n);
    expect(st("nanos").atimeNs).toBe(1_600_000_000_500_000_000n);
    // Whiteouts: overlay's 0/0 char device, owned as the entry says; no .wh. files anywhere.
    expect(st("etc/gone").isCharacterDevice()).toBe(true);
    expect([st("etc/gone").rdev, st("etc/gone").uid, st("etc/gone").gid]).toEqual([0n, 7n, 8n]);
    expect(fs.existsSync(path.join(dest, "etc/.wh.gone"))).toBe(false);
    expect(fsat.lgetxattr(path.join(dest, "opaque"), "trusted.overlay.opaque")?.toString()).toBe("y");
    expect(fs.readdirSync(path.join(dest, "opaque"))).toEqual(["kept"]);
    expect(fs.readdirSync(dest).filter((n) => n.startsWith(".wh."))).toEqual([]);
    // Long names.
    expect(fs.readFileSync(path.join(dest, long), "utf8")).toBe("pax long");
    expect(fs.readlinkSync(path.join(dest, `gnu/${"g".repeat(150)}`))).toBe(`/${"t".repeat(150)}`);
    expect(fs.readFileSync(path.join(dest, "some/prefix/dir/in-prefix"), "utf8")).toBe("p");
    expect(st("v7dir").isDirectory()).toBe(true);
    expect(modeOf("gnu-format")).toBe("640");
    expect(modeOf(".")).toBe("755");
  });

  test("later entries replace earlier ones", async () => {
    const data = tar(
      file("x", "first"),
      file("x", "second"),
      dir("d/", { mode: 0o700, uid: 5 }),
      file("d/child"),
      dir("d/", { mode: 0o750, uid: 6 }),
      file("f-then-dir"),
      dir("f-then-dir/"),
      dir("dir-then-f/sub/"),
      file("dir-then-f/sub/deep"),
      file("dir-then-f", "now a file"),
      symlink("s", "a"),
      symlink("s", "b"),
      file("gone", "was here"),
      file(".wh.gone", ""),
      file(".wh.back", ""),
      file("back", "restored"),
    );
    await applyLayer(layerFile(data), dest);
    const st = (p: string) => fs.lstatSync(path.join(dest, p));
    expect(fs.readFileSync(path.join(dest, "x"), "utf8")).toBe("second");
    expect([st("d").mode & 0o7777, st("d").uid]).toEqual([0o750, 6]);
    expect(fs.existsSync(path.join(dest, "d/child"))).toBe(true);
    expect(st("f-then-dir").isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(dest, "dir-then-f"), "utf8")).toBe("now a file");
    expect(fs.readlinkSync(path.join(dest, "s"))).toBe("b");
    expect(st("gone").isCharacterDevice()).toBe(true);
    expect(fs.readFileSync(path.join(dest, "back"), "utf8")).toBe("restored");
  });

  test("non-UTF-8 names are kept byte for byte", async () => {
    const name = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "caf\xe9" (latin1)
    await applyLayer(layerFile(tar(entry({ name, data: "latin1" }), entry({ name: "l", type: "2", linkname: name }))), dest);
    const names = fs.readdirSync(dest, { encoding: "buffer" });
    expect(names.some((n) => n.equals(name))).toBe(true);
    expect(fs.readlinkSync(path.join(dest, "l"), { encoding: "buffer" })).toEqual(name);
  });

  test("GNU tar as oracle: a real tree survives tar -c | applyLayer", async () => {
    const src = path.join(base, "src");
    fs.mkdirSync(path.join(src, "d/sub"), { recursive: true });
    fs.writeFileSync(path.join(src, "d/f"), "hello");
    fs.linkSync(path.join(src, "d/f"), path.join(src, "d/hard"));
    fs.symlinkSync("/etc/passwd", path.join(src, "abs"));
    fs.symlinkSync("../../x", path.join(src, "d/climb"));
    fs.mkdirSync(path.join(src, "t"), { mode: 0o1777 });
    fs.chmodSync(path.join(src, "t"), 0o1777);
    fs.mkdirSync(path.join(src, "sg"));
    fs.chownSync(path.join(src, "d/f"), 1234, 5678);
    fs.chmodSync(path.join(src, "d/f"), 0o4755);
    fs.chmodSync(path.join(src, "sg"), 0o2775);
    fs.writeFileSync(path.join(src, "ping"), "ping");
    fsat.lsetxattr(path.join(src, "ping"), "security.capability", CAP_NET_RAW);
    fsat.lsetxattr(path.join(src, "d/sub"), "user.note", Buffer.from("a\0b"));
    expect(spawnSync(["mknod", path.join(src, "d/null"), "c", "1", "3"]).exitCode).toBe(0);
    expect(spawnSync(["mkfifo", path.join(src, "d/fifo")]).exitCode).toBe(0);
    const long = `${"l".repeat(150)}/${"m".repeat(150)}`;
    fs.mkdirSync(path.join(src, "l".repeat(150)));
    fs.writeFileSync(path.join(src, long), "long");
    const tarPath = path.join(base, "gnu.tar");
    const r = spawnSync(["tar", "--xattrs", "--xattrs-include=*", "-cf", tarPath, "-C", src, "."], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const res = await applyLayer(tarPath, dest);
    expect(res.diffId).toBe(sha256(fs.readFileSync(tarPath)));
    expect(diffSnapshots(snapshot(src), snapshot(dest))).toBe("");

    // The same bytes gzip'd, zstd'd, and as Node and web streams.
    const raw = fs.readFileSync(tarPath);
    const gz = zlib.gzipSync(raw);
    const zs = zlib.zstdCompressSync(raw);
    const cases: [string, () => Parameters<typeof applyLayer>[0], Buffer, string][] = [
      ["gzip", () => layerFile(gz, "l.gz"), gz, "gzip"],
      ["zstd", () => layerFile(zs, "l.zst"), zs, "zstd"],
      ["node stream", () => Readable.from([raw.subarray(0, 3), raw.subarray(3, 1000), raw.subarray(1000)]), raw, "none"],
      ["web stream", () => new Blob([gz]).stream(), gz, "gzip"],
    ];
    for (const [what, input, bytes, compression] of cases) {
      const d = path.join(base, `dest-${what.replace(" ", "-")}`);
      const got = await applyLayer(input(), d);
      expect({ what, ...got }).toEqual({
        what,
        diffId: res.diffId,
        digest: sha256(bytes),
        compressedSize: bytes.length,
        size: raw.length,
        entries: res.entries,
        compression,
      } as never);
      expect(diffSnapshots(snapshot(src), snapshot(d))).toBe("");
    }
  });

  test("big layers (hashed on a worker thread) get the same digests", async () => {
    const bigData = Buffer.alloc(40 << 20);
    for (let i = 0; i < bigData.length; i += 4096) bigData[i] = i & 0xff;
    const data = tar(file("small", "s"), entry({ name: "big", data: bigData }), file("after", "a"));
    const res = await applyLayer(layerFile(data), dest);
    expect([res.diffId, res.digest, res.size]).toEqual([sha256(data), sha256(data), data.length]);
    expect(fs.readFileSync(path.join(dest, "big")).equals(bigData)).toBe(true);
    // And a failure mid-way still cleans up (the worker is stopped, dest removed).
    fs.rmSync(dest, { recursive: true });
    await expectRejected(data.subarray(0, 36 << 20), /truncated inside entry "big"/);
  });

  test("an empty input is an empty layer", async () => {
    const res = await applyLayer(layerFile(Buffer.alloc(0)), dest);
    expect(res.entries).toBe(0);
    expect(fs.readdirSync(dest)).toEqual([]);
  });
});
