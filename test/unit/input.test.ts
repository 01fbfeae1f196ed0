// Input hardening (issue 15, points 7 and 9): the reference grammar, tag names from archives,
// quoting of user input in errors, tmpfs option parsing.
import { describe, expect, test } from "bun:test";
import { parseReference, parseTagReference } from "../../src/image/reference.ts";
import { UserError, quote, oneLine } from "../../src/util/errors.ts";
import { parseTmpfsOptions, MS } from "../../src/linux/tmpfs-options.ts";
import { parseDockerManifest } from "../../src/image/load.ts";

const D = "sha256:" + "a".repeat(64);

describe("reference grammar", () => {
  test("a tag never holds a slash: x:tag/with/slash is refused", () => {
    expect(() => parseReference("x:tag/with/slash")).toThrow(/invalid reference format/);
    expect(() => parseReference("x:tag/y")).toThrow(/invalid reference format/);
    // A port is digits only; a registry with a port is still fine.
    expect(parseReference("x:5000/y")).toMatchObject({ registry: "x:5000", repository: "y", tag: "latest" });
  });
  test("what the grammar accepts", () => {
    expect(parseReference("a__b/c.d-e/f---g:T_1.x")).toMatchObject({ registry: "docker.io", repository: "a__b/c.d-e/f---g", tag: "T_1.x" });
    expect(parseReference("[::1]:5000/img")).toMatchObject({ registry: "[::1]:5000", repository: "img" });
    expect(parseReference("my-reg.example.com/a/b@" + D)).toMatchObject({ registry: "my-reg.example.com", digest: D, tag: undefined });
    expect(parseReference("Registry.Example/a")).toMatchObject({ registry: "Registry.Example", repository: "a" });
    expect(parseReference("index.docker.io/busybox")).toMatchObject({ registry: "docker.io", repository: "library/busybox" });
  });
  test("what it refuses", () => {
    for (const bad of [
      "a/B", "a:b:c", "a_/b", "a..b", "a___b", "-a", "a-", "reg-.io/a", "reg:port/a", "a@sha256:abc", "a:" + "t".repeat(129),
      ".a", "a/", "/a", "a b", "a\nb", "a:-t", "a".repeat(64).replace(/a/g, "f"), "x/" + "y".repeat(260), "a@sha512:" + "0".repeat(128),
    ]) {
      expect(() => parseReference(bad), bad).toThrow(/invalid reference format/);
    }
  });
  test("an error quoting a name with a newline stays one line", () => {
    try {
      parseReference("evil\nminid: fake");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).not.toContain("\n");
      expect((e as Error).message).toContain('"evil\\nminid: fake"');
    }
  });
});

describe("quoting", () => {
  test("quote escapes like Go's %q", () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote("a\nb\tc\x1b[31m\x00\u202e")).toBe('"a\\nb\\tc\\x1b[31m\\x00\\u202e"');
    expect(quote("ünïcode ok")).toBe('"ünïcode ok"');
  });
  test("every UserError is one line, except Docker's help hint", () => {
    expect(new UserError("no such container: a\nb").message).toBe("no such container: a\\nb");
    expect(new UserError("unknown flag: --x\r\nSee 'minid run --help'.").message).toBe("unknown flag: --x\\r\nSee 'minid run --help'.");
    expect(oneLine("x\u2028y")).toBe("x\\u2028y");
  });
});

describe("archive tags", () => {
  test("RepoTags repo@sha256 is refused, not turned into repo:latest", () => {
    expect(() => parseTagReference(`busybox@${D}`, "manifest.json")).toThrow(/invalid tag "busybox@sha256:a+" in manifest.json: .*digest/);
    expect(() => parseTagReference("busybox", "manifest.json")).toThrow(/names no tag/);
    expect(parseTagReference("localhost:5000/x:2", "m")).toMatchObject({ registry: "localhost:5000", repository: "x", tag: "2" });
    // parsing the manifest keeps the raw names; the check happens before anything is written
    expect(parseDockerManifest([{ Config: "c.json", RepoTags: [`busybox@${D}`], Layers: [] }])[0]!.tags).toEqual([`busybox@${D}`]);
  });
});

describe("tmpfs options", () => {
  const DEF = MS.NOEXEC | MS.NOSUID | MS.NODEV;
  test("Docker's defaults: noexec,nosuid,nodev", () => {
    expect(parseTmpfsOptions(undefined)).toEqual({ flags: DEF, data: "" });
    expect(parseTmpfsOptions("mode=1777")).toEqual({ flags: DEF, data: "mode=1777" });
  });
  test("flag words become flags, the rest data (size=1m,exec)", () => {
    expect(parseTmpfsOptions("size=1m,exec")).toEqual({ flags: MS.NOSUID | MS.NODEV, data: "size=1m" });
    expect(parseTmpfsOptions("exec,suid,dev,ro,mode=0700,uid=5,gid=6,nr_inodes=1k")).toEqual({
      flags: MS.RDONLY,
      data: "mode=0700,uid=5,gid=6,nr_inodes=1k",
    });
    expect(parseTmpfsOptions("ro,rw").flags).toBe(DEF);
    expect(parseTmpfsOptions("sync,dirsync,nodiratime,mand").flags).toBe(DEF | MS.SYNCHRONOUS | MS.DIRSYNC | MS.NODIRATIME | MS.MANDLOCK);
    expect(parseTmpfsOptions("sync,async").flags).toBe(DEF);
  });
  test("later words win; atime policies replace each other", () => {
    expect(parseTmpfsOptions("exec,noexec").flags).toBe(DEF);
    expect(parseTmpfsOptions("size=1m,mode=700,size=2m").data).toBe("mode=700,size=2m");
    expect(parseTmpfsOptions("noatime,relatime").flags).toBe(DEF | MS.RELATIME);
    expect(parseTmpfsOptions("relatime,strictatime").flags).toBe(DEF | MS.STRICTATIME);
    expect(parseTmpfsOptions("noatime,atime").flags).toBe(DEF);
    expect(parseTmpfsOptions("defaults").flags).toBe(DEF);
  });
  test("anything else is refused by name", () => {
    expect(() => parseTmpfsOptions("bogus")).toThrow(/invalid tmpfs option "bogus": not a mount flag/);
    expect(() => parseTmpfsOptions("size=lots")).toThrow(/bad value for size/);
    expect(() => parseTmpfsOptions("mode=999")).toThrow(/bad value for mode/);
    expect(() => parseTmpfsOptions("exec=1")).toThrow(/invalid tmpfs option/);
    expect(() => parseTmpfsOptions("noswap=1")).toThrow(/bad value/);
    expect(() => parseTmpfsOptions("rprivate")).toThrow(/propagation/);
    expect(() => parseTmpfsOptions("a\nb")).toThrow(/"a\\nb"/);
  });
});

import { argBytes, decodeArgBytes, losslessArgv } from "../../src/util/argbytes.ts";
import { rawArgvBytes } from "../../src/cli/argv.ts";

describe("argv bytes (surrogateescape)", () => {
  const cases: number[][] = [
    [0xff, 0xfe],
    [0x61, 0xc3, 0xa9, 0x62], // é is text
    [0x80], // lone continuation
    [0xc0, 0xaf], // overlong '/'
    [0xed, 0xa0, 0x80], // UTF-16 surrogate encoded
    [0xe2, 0x82], // truncated
    [0xf0, 0x9f, 0x98, 0x80, 0xdc, 0x80], // emoji then an escape that could pair wrongly
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [],
  ];
  test("decode then encode gives the same bytes, for every case and for all 256 single bytes", () => {
    for (const c of [...cases, ...Array.from({ length: 256 }, (_, i) => [i])]) {
      expect([...argBytes(decodeArgBytes(Uint8Array.from(c)))]).toEqual(c);
    }
  });
  test("valid UTF-8 decodes to its text; bad bytes to U+DC80..U+DCFF", () => {
    expect(decodeArgBytes(Buffer.from("héllo 😀"))).toBe("héllo 😀");
    expect(decodeArgBytes(Uint8Array.from([0xff, 0x41]))).toBe("\udcffA");
    // The escapes survive JSON (state.json, the init spec).
    const s = decodeArgBytes(Uint8Array.from([0xff, 0xfe]));
    expect([...argBytes(JSON.parse(JSON.stringify({ s })).s)]).toEqual([0xff, 0xfe]);
  });
  test("losslessArgv takes the words from the kernel's command line when they match", () => {
    const cmdline = Buffer.concat([Buffer.from("/usr/bin/minid\0run\0busybox\0"), Buffer.from([0xff, 0xfe, 0]), Buffer.from("\0")]);
    const argv = ["run", "busybox", "\ufffd\ufffd", ""];
    const got = losslessArgv(argv, cmdline);
    expect(got.slice(0, 2)).toEqual(["run", "busybox"]);
    expect(rawArgvBytes(got.slice(2)).map((b) => [...b])).toEqual([[0xff, 0xfe], []]);
    // A command line that does not line up with argv is not trusted.
    expect(losslessArgv(["other", "words"], cmdline)).toEqual(["other", "words"]);
  });
});
