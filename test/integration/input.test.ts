// Input the way a user can type it (issue 15, points 7-10), checked from inside the container:
// argv bytes that are not UTF-8, tmpfs options that mix mount flags and data, -h as --hostname,
// names the reference grammar refuses, tags an archive must not be allowed to invent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BIN, TestRoot, ensureBuilt, isRoot, minidCommand } from "../helpers/minid.ts";

const it = isRoot() ? test : test.skip;
let r: TestRoot;

beforeAll(() => {
  if (!isRoot()) return;
  if (process.env.MINID_TEST_SOURCE !== "1") ensureBuilt();
  r = new TestRoot("input");
});
afterAll(() => r?.cleanup());

/**
 * Run minid through sh so words can hold any byte: `$(printf '\377')` makes a word Bun.spawn
 * could never pass (it encodes strings as UTF-8).
 */
function viaShell(script: string) {
  const [exe, ...pre] = minidCommand();
  const res = Bun.spawnSync(["sh", "-c", `m() { "$0" "$@"; }; ${script}`, exe!, ...pre, "--root", r.dir], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    timeout: 60_000,
  });
  return { code: res.exitCode, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

describe("argv bytes reach the container exactly", () => {
  it("run busybox sh -c 'printf %s \"$1\" | od' x $'\\xff\\xfe' prints ff fe", () => {
    const res = viaShell(`m "$@" run --rm busybox sh -c 'printf %s "$1" | od -An -tx1' x "$(printf '\\377\\376')"`);
    expect(res.stderr).toBe("");
    expect(res.stdout.trim()).toBe("ff fe");
    expect(res.code).toBe(0);
  });

  it("every kind of invalid UTF-8 next to valid characters, in argv and in -e values", () => {
    // é, a lone continuation byte, an overlong '/', a UTF-16 surrogate, a truncated 3-byte
    // sequence, an emoji, and a NUL-free 0xff at the end.
    const word = "\\303\\251\\200\\300\\257\\355\\240\\200\\342\\202\\360\\237\\230\\200\\377";
    const res = viaShell(
      `w="$(printf '${word}')"; m "$@" run --rm -e "V=$w" busybox sh -c 'printf %s "$1" | od -An -tx1; printf %s "$V" | od -An -tx1' x "$w"`,
    );
    const want = "c3 a9 80 c0 af ed a0 80 e2 82 f0 9f 98 80 ff";
    expect(res.stdout.split("\n").map((l) => l.trim().replace(/\s+/g, " "))).toEqual([want, want, ""]);
    expect(res.code).toBe(0);
  });

  it("exec passes the same bytes, in argv and in -e values", () => {
    const word = "\\303\\251\\200\\300\\257\\377";
    const res = viaShell(
      `w="$(printf '${word}')"; m "$@" run -d --name argvexec busybox sleep 60 >/dev/null && m "$@" exec -e "V=$w" argvexec sh -c 'printf %s "$1" | od -An -tx1; printf %s "$V" | od -An -tx1' x "$w"; rc=$?; m "$@" rm -f argvexec >/dev/null; exit $rc`,
    );
    const want = "c3 a9 80 c0 af ff";
    expect(res.stdout.split("\n").map((l) => l.trim().replace(/\s+/g, " "))).toEqual([want, want, ""]);
    expect(res.code).toBe(0);
  });

  it("a stopped container started again still gets the same bytes (they survive state.json)", () => {
    const res = viaShell(
      `m "$@" run --name argvkeep busybox sh -c 'printf %s "$1" | od -An -tx1' x "$(printf 'a\\376')" && m "$@" start -a argvkeep && m "$@" rm argvkeep >/dev/null`,
    );
    expect(res.stdout.trim().split("\n").map((l) => l.trim())).toEqual(["61 fe", "61 fe"]);
    expect(res.code).toBe(0);
  });
});

describe("--tmpfs options: mount flags and data", () => {
  const mountOf = (out: string, dir: string) => out.split("\n").find((l) => l.split(" ")[1] === dir) ?? "";
  it("/x:size=1m,exec is an exec tmpfs of 1 MiB, still nosuid,nodev (Docker's defaults)", () => {
    const res = r.run(["run", "--rm", "--tmpfs", "/x:size=1m,exec", "busybox", "sh", "-c", "cat /proc/mounts; printf '#!/bin/sh\\necho exec-ok\\n' > /x/s && chmod +x /x/s && /x/s"]);
    expect(res.stderr).toBe("");
    const line = mountOf(res.stdout, "/x");
    const opts = line.split(" ")[3]!.split(",");
    expect(line.split(" ")[2]).toBe("tmpfs");
    expect(opts).toContain("size=1024k");
    expect(opts).toContain("nosuid");
    expect(opts).toContain("nodev");
    expect(opts).not.toContain("noexec");
    expect(res.stdout).toContain("exec-ok");
  });

  it("by default a tmpfs is noexec,nosuid,nodev and a file on it cannot be executed", () => {
    const res = r.run(["run", "--rm", "--tmpfs", "/y", "busybox", "sh", "-c", "cat /proc/mounts; printf '#!/bin/sh\\necho ran\\n' > /y/s && chmod +x /y/s; /y/s 2>&1 || echo exec-denied"]);
    const opts = mountOf(res.stdout, "/y").split(" ")[3]!.split(",");
    expect(opts).toEqual(expect.arrayContaining(["rw", "nosuid", "nodev", "noexec"]));
    expect(res.stdout).toContain("Permission denied");
    expect(res.stdout).toContain("exec-denied");
    expect(res.stdout).not.toContain("ran");
  });

  it("ro, suid, dev, noatime, mode and a size the kernel enforces", () => {
    const res = r.run([
      "run", "--rm", "--tmpfs", "/r:ro,mode=0700", "--tmpfs", "/s:suid,dev,noatime,size=64k,uid=7,gid=8", "busybox", "sh", "-c",
      "cat /proc/mounts; touch /r/f 2>&1; stat -c '%a %u:%g' /r /s; dd if=/dev/zero of=/s/big bs=1k count=128 2>&1",
    ]);
    const ro = mountOf(res.stdout, "/r").split(" ")[3]!.split(",");
    const s = mountOf(res.stdout, "/s").split(" ")[3]!.split(",");
    expect(ro).toContain("ro");
    expect(s).toEqual(expect.arrayContaining(["noatime", "size=64k", "uid=7", "gid=8"]));
    expect(s).not.toContain("nosuid");
    expect(s).not.toContain("nodev");
    expect(res.stdout).toContain("Read-only file system");
    expect(res.stdout).toContain("700 0:0\n");
    expect(res.stdout).toContain("1777 7:8\n");
    expect(res.stdout).toContain("No space left on device");
  });

  it("an unknown option is one line, exit 125, and leaves no container", () => {
    const before = r.containerIds().length;
    const res = r.run(["run", "--rm", "--tmpfs", "/x:size=1m,bogus", "busybox", "true"]);
    expect(res.stderr).toBe(`minid: invalid tmpfs option "bogus": not a mount flag or tmpfs option\n`);
    expect(res.code).toBe(125);
    expect(r.containerIds().length).toBe(before);
  });
});

describe("-h is --hostname on run", () => {
  it("run -h web1 busybox hostname prints web1", () => {
    const res = r.run(["run", "--rm", "-h", "web1", "busybox", "hostname"]);
    expect(res.stdout).toBe("web1\n");
    expect(res.code).toBe(0);
    expect(r.run(["run", "--rm", "-hweb2", "busybox", "hostname"]).stdout).toBe("web2\n");
  });
  it("--help is still help, and -h stays help where it means nothing else", () => {
    const help = r.run(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--hostname");
    const ps = r.run(["ps", "-h"]);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toStartWith("\nUsage:  minid ps [OPTIONS]\n");
    // After the image, -h belongs to the container's command.
    expect(r.run(["run", "--rm", "busybox", "echo", "-h"]).stdout).toBe("-h\n");
  });
});

describe("names", () => {
  it("x:tag/with/slash is not a repository name", () => {
    const res = r.run(["tag", "busybox", "x:tag/with/slash"]);
    expect(res.stderr).toStartWith(`minid: invalid reference format "x:tag/with/slash"`);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.code).not.toBe(0);
    expect(r.run(["images", "--format", "{{.Repository}}"]).stdout.split("\n")).not.toContain("x");
  });
  it("a name holding a newline is quoted on one line", () => {
    const res = r.run(["pull", "bad\nminid: forged line"]);
    expect(res.stderr).toStartWith(`minid: invalid reference format "bad\\nminid: forged line"`);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    const upper = r.run(["pull", "Bad\nName"]);
    expect(upper.stderr).toBe(`minid: invalid reference format "Bad\\nName": repository name (Bad\\nName) must be lowercase\n`);
    expect(res.code).toBe(1);
    const rm = r.run(["rm", "no\nsuch"]);
    expect(rm.stderr.trim().split("\n")).toHaveLength(1);
  });
  it("load refuses a RepoTag NAME@sha256:... instead of tagging it NAME:latest", () => {
    const dir = mkdtempSync(join(tmpdir(), "minid-load-digest-"));
    try {
      const tar = join(dir, "bb.tar");
      expect(r.run(["save", "-o", tar, "busybox"]).code).toBe(0);
      const x = Bun.spawnSync(["tar", "-C", dir, "-xf", tar]);
      expect(x.exitCode).toBe(0);
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      const digest = `sha256:${"e".repeat(64)}`;
      manifest[0].RepoTags = [`evil@${digest}`];
      writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
      const files = readFileSync(tar).length > 0 ? Bun.spawnSync(["tar", "-tf", tar]).stdout.toString().trim().split("\n") : [];
      const evil = join(dir, "evil.tar");
      expect(Bun.spawnSync(["tar", "-C", dir, "-cf", evil, ...files.filter((f) => !f.endsWith("/"))]).exitCode).toBe(0);
      const res = r.run(["load", "-i", evil]);
      expect(res.stderr).toContain(`invalid tag "evil@${digest}"`);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.code).not.toBe(0);
      expect(r.run(["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout).not.toContain("evil");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
void BIN;
