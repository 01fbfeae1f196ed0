// Named and anonymous volumes, --mount and --volumes-from: checked inside the container and on
// disk under <root>/volumes, including the copy-up from a hostile image and crashes.
import { describe, expect } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, readdirSync, symlinkSync, chownSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";
import { lgetxattr, lsetxattr } from "../../src/linux/libc.ts";

const it = requires("root");
const { r, run } = useRunRoot("namedvol");

const vdir = (name: string) => join(r.dir, "volumes", name, "_data");
const idOf = (name: string) => r.run(["inspect", "-f", "{{.Id}}", name]).stdout.trim();
const mountsOf = (name: string) => JSON.parse(r.run(["inspect", "-f", "{{json .Mounts}}", name]).stdout) as Record<string, unknown>[];

/** An image made from busybox plus `extra(tree)`, imported as `tag` with the given changes. */
function makeImage(tag: string, extra: (tree: string) => void, changes: string[] = []): void {
  const tree = join(r.dir, `tree-${tag.replace(/[:/]/g, "_")}`);
  mkdirSync(tree);
  const base = Bun.spawnSync(["tar", "-xzf", join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), "-C", tree]);
  expect(base.exitCode).toBe(0);
  extra(tree);
  const tarFile = `${tree}.tar`;
  expect(Bun.spawnSync(["tar", "--xattrs", "--xattrs-include=user.*", "--numeric-owner", "-cf", tarFile, "-C", tree, "."]).exitCode).toBe(0);
  const res = r.run(["import", ...changes.flatMap((c) => ["-c", c]), "-c", 'CMD ["sh"]', tarFile, tag]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  rmSync(tree, { recursive: true, force: true });
  rmSync(tarFile, { force: true });
}

describe("named volumes", () => {
  it("create, ls, inspect, rm: data lives in <root>/volumes/NAME/_data and outlives containers", () => {
    expect(r.run(["volume", "create", "--label", "team=a", "data1"]).stdout).toBe("data1\n");
    expect(r.run(["volume", "create", "data1"]).code).toBe(0); // an existing name is no error, as Docker
    expect(statSync(vdir("data1")).isDirectory()).toBe(true);
    expect(run("-v", "data1:/d", "sh", "-c", "echo persisted > /d/f").code).toBe(0);
    expect(readFileSync(join(vdir("data1"), "f"), "utf8")).toBe("persisted\n");
    expect(run("-v", "data1:/other", "cat", "/other/f").stdout).toBe("persisted\n");
    expect(r.run(["volume", "ls", "-q", "-f", "label=team=a"]).stdout).toBe("data1\n");
    expect(r.run(["volume", "ls", "-q", "-f", "label=team=b"]).stdout).toBe("");
    expect(r.run(["volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "-f", "name=ata1"]).stdout).toBe("data1 local team=a\n");
    const doc = JSON.parse(r.run(["volume", "inspect", "data1"]).stdout)[0];
    expect(doc).toMatchObject({ Driver: "local", Labels: { team: "a" }, Mountpoint: vdir("data1"), Name: "data1", Scope: "local" });
    expect(doc.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.run(["volume", "rm", "data1"]).stdout).toBe("data1\n");
    expect(existsSync(join(r.dir, "volumes", "data1"))).toBe(false);
    const gone = r.run(["volume", "inspect", "data1"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("minid: No such volume: data1\n");
    expect(r.run(["volume", "rm", "-f", "data1"]).code).toBe(0);
    const missing = r.run(["volume", "rm", "data1"]);
    expect([missing.code, missing.stderr]).toEqual([1, "minid: No such volume: data1\n"]);
  });

  it("a volume in use (even by a stopped container) is kept: exit 1; free once the container is gone", () => {
    expect(r.run(["create", "--name", "user1", "-v", "busy1:/d", "busybox", "true"]).code).toBe(0);
    const res = r.run(["volume", "rm", "-f", "busy1"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`minid: remove busy1: volume is in use - [${idOf("user1")}]\n`);
    expect(existsSync(vdir("busy1"))).toBe(true);
    expect(r.run(["volume", "ls", "-q", "-f", "dangling=true"]).stdout).not.toContain("busy1");
    expect(r.run(["rm", "-v", "user1"]).code).toBe(0); // -v removes anonymous volumes only
    expect(r.run(["volume", "ls", "-q", "-f", "dangling=true"]).stdout).toContain("busy1\n");
    expect(r.run(["volume", "rm", "busy1"]).code).toBe(0);
  });

  it("bad names and drivers: one line, exit 1 (volume) / 125 (run), nothing made", () => {
    for (const [args, code, msg] of [
      [["volume", "create", "a b"], 1, /includes invalid characters for a local volume name/],
      [["volume", "create", "x"], 1, /volume name is too short/],
      [["volume", "create", "-d", "nfs", "vv"], 1, /plugin "nfs" not found/],
      [["run", "--rm", "-v", "a b:/x", "busybox", "true"], 125, /includes invalid characters/],
      [["run", "--rm", "-v", "/a:/b:bad", "busybox", "true"], 125, /^minid: invalid mode: bad$/m],
      [["run", "--rm", "-v", "vv:/b:rslave", "busybox", "true"], 125, /field BindOptions must not be specified/],
    ] as const) {
      const res = r.run([...args]);
      expect(res.code).toBe(code);
      expect(res.stderr).toMatch(msg);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("");
    expect(r.run(["ps", "-aq"]).stdout).toBe("");
  });
});

describe("copy-up", () => {
  it("a new volume gets the image's content at the path: owners, modes, xattrs, links; symlinks stay symlinks", () => {
    const outside = join(r.dir, "host-secret");
    writeFileSync(outside, "host data");
    makeImage("cu:1", (t) => {
      const d = join(t, "srv");
      mkdirSync(join(d, "sub"), { recursive: true });
      writeFileSync(join(d, "owned"), "o");
      chownSync(join(d, "owned"), 1234, 5678);
      chmodSync(join(d, "owned"), 0o4751);
      writeFileSync(join(d, "sub", "x"), "x");
      lsetxattr(join(d, "sub", "x"), "user.test", Buffer.from("xv"));
      symlinkSync(outside, join(d, "evil")); // absolute: to a host path
      symlinkSync("../../../../../..", join(d, "climb"));
      Bun.spawnSync(["ln", join(d, "owned"), join(d, "hardlink")]);
      chownSync(d, 42, 43);
      chmodSync(d, 0o750);
      // /lnk -> /etc: the image's /etc is what a volume at /lnk gets, never the host's
      symlinkSync("/etc", join(t, "lnk"));
    });
    expect(r.run(["run", "--rm", "-v", "cuv:/srv", "cu:1", "true"]).code).toBe(0);
    const data = vdir("cuv");
    const owned = lstatSync(join(data, "owned"));
    expect([owned.uid, owned.gid, owned.mode & 0o7777]).toEqual([1234, 5678, 0o4751]);
    expect(lstatSync(join(data, "hardlink")).ino).toBe(owned.ino);
    expect(lgetxattr(join(data, "sub", "x"), "user.test")?.toString()).toBe("xv");
    expect(lstatSync(join(data, "evil")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(data, "evil"))).toBe(outside);
    expect(readlinkSync(join(data, "climb"))).toBe("../../../../../..");
    const root = statSync(data);
    expect([root.uid, root.gid, root.mode & 0o7777]).toEqual([42, 43, 0o750]);
    expect(readFileSync(outside, "utf8")).toBe("host data");
    // through the symlink in the image: the image's /etc (busybox passwd), not the host's
    r.run(["run", "--rm", "-v", "cuetc:/lnk", "cu:1", "true"]);
    const imagePasswd = r.run(["run", "--rm", "cu:1", "cat", "/etc/passwd"]).stdout;
    expect(readFileSync(join(vdir("cuetc"), "passwd"), "utf8")).toBe(imagePasswd);
    expect(readFileSync(join(vdir("cuetc"), "passwd"), "utf8")).not.toBe(readFileSync("/etc/passwd", "utf8"));
    // a volume that has content is never filled again; nocopy leaves a new one empty
    writeFileSync(join(data, "owned"), "changed");
    r.run(["run", "--rm", "-v", "cuv:/srv", "cu:1", "true"]);
    expect(readFileSync(join(data, "owned"), "utf8")).toBe("changed");
    r.run(["run", "--rm", "-v", "cunocopy:/srv:nocopy", "cu:1", "true"]);
    expect(readdirSync(vdir("cunocopy"))).toEqual([]);
    r.run(["run", "--rm", "--mount", "type=volume,src=cunocopy2,dst=/srv,volume-nocopy", "cu:1", "true"]);
    expect(readdirSync(vdir("cunocopy2"))).toEqual([]);
    for (const v of ["cuv", "cuetc", "cunocopy", "cunocopy2"]) expect(r.run(["volume", "rm", v]).code).toBe(0);
  });

  it("a path the image has as a file or not at all gives an empty volume", () => {
    const under = run("-v", "cufile:/etc/passwd/x", "true"); // /etc/passwd is a file: cannot mount under it
    expect(under.code).toBe(125);
    expect(under.stderr.trim().split("\n")).toHaveLength(1);
    expect(under.stderr).toContain("not a directory in the container");
    expect(run("-v", "cunone:/nonexistent", "true").code).toBe(0);
    expect(readdirSync(vdir("cunone"))).toEqual([]);
    r.run(["volume", "rm", "-f", "cufile", "cunone"]);
  });
});

describe("anonymous volumes", () => {
  it("-v /path and the image's VOLUME list make anonymous volumes; rm -v removes them, rm keeps them", () => {
    makeImage("withvol:1", (t) => {
      mkdirSync(join(t, "state"));
      writeFileSync(join(t, "state", "seed"), "seed");
    }, ["VOLUME /state"]);
    expect(r.run(["create", "--name", "anon1", "-v", "/scratch", "withvol:1", "true"]).code).toBe(0);
    const ms = mountsOf("anon1");
    const byDest = Object.fromEntries(ms.map((m) => [m.Destination, m]));
    expect(byDest["/scratch"]).toMatchObject({ Type: "volume", Driver: "local", Mode: "", RW: true });
    expect(byDest["/state"]).toMatchObject({ Type: "volume" });
    const names = ms.map((m) => m.Name as string);
    for (const n of names) expect(n).toMatch(/^[a-f0-9]{64}$/);
    expect(readFileSync(join(vdir(byDest["/state"]!.Name as string), "seed"), "utf8")).toBe("seed");
    expect(JSON.parse(r.run(["inspect", "-f", "{{json .Config.Volumes}}", "anon1"]).stdout)).toEqual({ "/scratch": {}, "/state": {} });
    expect(r.run(["rm", "-v", "anon1"]).code).toBe(0);
    for (const n of names) expect(existsSync(join(r.dir, "volumes", n))).toBe(false);
    // without -v they stay (dangling), and volume prune takes them
    expect(r.run(["create", "--name", "anon2", "-v", "/scratch", "busybox", "true"]).code).toBe(0);
    const n2 = mountsOf("anon2")[0]!.Name as string;
    r.run(["rm", "anon2"]);
    expect(existsSync(vdir(n2))).toBe(true);
    r.run(["volume", "create", "keepme"]);
    const pr = r.run(["volume", "prune", "-f"]);
    expect(pr.stdout).toBe(`Deleted Volumes:\n${n2}\n\nTotal reclaimed space: 0B\n`);
    expect(existsSync(vdir("keepme"))).toBe(true); // named volumes only with -a
    expect(r.run(["volume", "prune", "-af"]).stdout).toContain("keepme\n");
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("");
  });

  it("--rm removes the anonymous volumes, also of a detached container, and keeps named ones", async () => {
    expect(r.run(["run", "--rm", "-v", "/a1", "-v", "keep2:/k", "busybox", "sh", "-c", "echo > /a1/f"]).code).toBe(0);
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("keep2\n");
    expect(r.run(["run", "-d", "--rm", "-v", "/a2", "busybox", "sh", "-c", "sleep 0.2"]).code).toBe(0);
    for (let i = 0; i < 100 && r.run(["ps", "-aq"]).stdout; i++) await Bun.sleep(50);
    for (let i = 0; i < 40 && r.run(["volume", "ls", "-q"]).stdout !== "keep2\n"; i++) await Bun.sleep(50);
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("keep2\n");
    r.run(["volume", "rm", "keep2"]);
  });
});

describe("--mount and --volumes-from", () => {
  it("bind, volume and tmpfs mounts with their options, seen from inside", () => {
    const host = join(r.dir, "mnt-src");
    mkdirSync(host);
    writeFileSync(join(host, "f"), "bound");
    const res = run(
      "--mount", `type=bind,source=${host},target=/b,readonly`,
      "--mount", "type=volume,source=mv1,target=/v",
      "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
      "-v", `${host}:/z:z,rslave`,
      "sh", "-c", "cat /b/f; echo x > /b/f 2>/dev/null || echo ro-ok; echo v > /v/f; grep ' /t ' /proc/self/mountinfo; stat -c %a /t; grep ' /z ' /proc/self/mountinfo",
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("bound");
    expect(res.stdout).toContain("ro-ok");
    expect(res.stdout).toMatch(/ \/t rw,nosuid,nodev,noexec.* tmpfs .*size=1024k/);
    expect(res.stdout).toContain("1770\n");
    expect(readFileSync(join(vdir("mv1"), "f"), "utf8")).toBe("v\n");
    expect(readFileSync(join(host, "f"), "utf8")).toBe("bound");
    r.run(["volume", "rm", "mv1"]);
  });

  it("rslave receives what the host mounts under the source later; the default (rprivate) does not", async () => {
    const src = join(r.dir, "shared-src");
    mkdirSync(join(src, "sub"), { recursive: true });
    // the source must be a shared mount for propagation to mean anything (as on systemd hosts)
    expect(Bun.spawnSync(["mount", "--bind", src, src]).exitCode).toBe(0);
    let subMounted = false;
    try {
      expect(Bun.spawnSync(["mount", "--make-shared", src]).exitCode).toBe(0);
      expect(r.run(["run", "-d", "--name", "prop1", "-v", `${src}:/slave:rslave`, "--mount", `type=bind,src=${src},dst=/private`, "busybox", "sleep", "60"]).code).toBe(0);
      expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "late", join(src, "sub")]).exitCode).toBe(0);
      subMounted = true;
      const mi = r.run(["exec", "prop1", "cat", "/proc/self/mountinfo"]).stdout;
      expect(mi).toMatch(/ \/slave\/sub rw,relatime master:\d+ - tmpfs late /);
      expect(mi).not.toContain(" /private/sub ");
      expect(mi).toMatch(/ \/slave rw,relatime master:\d+ /);
    } finally {
      r.run(["rm", "-f", "prop1"]);
      if (subMounted) Bun.spawnSync(["umount", join(src, "sub")]);
      Bun.spawnSync(["umount", src]);
    }
  });

  it("a --mount bind of a missing path is Docker's error and leaves nothing; -v makes the directory", () => {
    const missing = join(r.dir, "no-such-dir");
    const res = r.run(["run", "--rm", "--mount", `type=bind,src=${missing},dst=/x`, "busybox", "true"]);
    expect(res.code).toBe(125);
    expect(res.stderr).toBe(`minid: invalid mount config for type "bind": bind source path does not exist: ${missing}\n`);
    expect(existsSync(missing)).toBe(false);
    expect(r.run(["ps", "-aq"]).stdout).toBe("");
    const flag = r.run(["run", "--rm", "--mount", "type=bind,foo=1,target=/c", "busybox", "true"]);
    expect([flag.code, flag.stderr]).toEqual([125, `minid: invalid argument "type=bind,foo=1,target=/c" for "--mount" flag: unexpected key 'foo' in 'foo=1'\n`]);
  });

  it("--volumes-from shares the other container's volumes and binds, :ro makes them read-only", () => {
    const host = join(r.dir, "vf-bind");
    mkdirSync(host);
    expect(r.run(["create", "--name", "vfsrc", "-v", "vfnamed:/n", "-v", "/anon", "-v", `${host}:/h`, "--tmpfs", "/tt", "busybox", "true"]).code).toBe(0);
    const res = run("--volumes-from", "vfsrc:ro", "sh", "-c", "ls -d /n /anon /h; test -d /tt/. && grep -c ' /tt ' /proc/self/mountinfo; echo x > /n/f 2>/dev/null || echo ro-ok");
    expect(res.stdout).toContain("/anon\n/h\n/n\n");
    expect(res.stdout).toContain("ro-ok");
    expect(res.stdout).not.toMatch(/^1$/m); // tmpfs mounts are not shared
    expect(run("--volumes-from", "vfsrc", "sh", "-c", "echo w > /anon/f").code).toBe(0);
    const anon = mountsOf("vfsrc").find((m) => m.Destination === "/anon")!.Name as string;
    expect(readFileSync(join(vdir(anon), "f"), "utf8")).toBe("w\n");
    // the --rm of the borrowing container did not take the lender's anonymous volume
    expect(existsSync(vdir(anon))).toBe(true);
    // inspect keeps what was typed, as Docker's HostConfig.VolumesFrom
    expect(r.run(["create", "--name", "vfuser", "--volumes-from", "vfsrc:ro", "busybox", "true"]).code).toBe(0);
    expect(r.run(["inspect", "-f", "{{json .HostConfig.VolumesFrom}}", "vfuser"]).stdout).toBe('["vfsrc:ro"]\n');
    expect(r.run(["inspect", "-f", "{{json .HostConfig.VolumesFrom}}", "vfsrc"]).stdout).toBe("null\n");
    r.run(["rm", "vfuser"]);
    const bad = r.run(["run", "--rm", "--volumes-from", "nosuchctr", "busybox", "true"]);
    expect([bad.code, bad.stderr]).toEqual([125, "minid: No such container: nosuchctr\n"]);
    r.run(["rm", "-v", "vfsrc"]);
    expect(existsSync(vdir(anon))).toBe(false);
    r.run(["volume", "rm", "vfnamed"]);
  });
});

describe("volumes and images", () => {
  it("volume contents never reach commit or export", () => {
    expect(r.run(["run", "--name", "vc1", "-v", "vcv:/data", "-v", "/anon", "busybox", "sh", "-c", "echo secret > /data/s; echo a > /anon/a; echo layer > /l"]).code).toBe(0);
    const tarFile = join(r.dir, "vc1.tar");
    expect(r.run(["export", "-o", tarFile, "vc1"]).code).toBe(0);
    const names = Bun.spawnSync(["tar", "-tf", tarFile]).stdout.toString().split("\n").map((n) => n.replace(/^\.\//, ""));
    rmSync(tarFile);
    expect(names).toContain("l");
    expect(names.some((n) => /data\/s|anon\/a/.test(n))).toBe(false);
    expect(r.run(["commit", "vc1", "vc:1"]).code).toBe(0);
    expect(r.run(["run", "--rm", "vc:1", "sh", "-c", "cat /l; ls /data /anon 2>/dev/null | wc -l"]).stdout).toBe("layer\n0\n");
    r.run(["rm", "-v", "vc1"]);
    r.run(["rmi", "vc:1"]);
    r.run(["volume", "rm", "vcv"]);
  });
});

describe("crashes", () => {
  it("a copy-up cut short by a kill leaves its scratch directory, which the next volume command removes (a live one stays)", () => {
    r.run(["volume", "create", "cutv"]);
    const dead = join(r.dir, "volumes", "cutv", ".copyup-999999999-dead");
    const live = join(r.dir, "volumes", "cutv", `.copyup-${process.pid}-live`);
    mkdirSync(join(dead, "half"), { recursive: true });
    mkdirSync(live);
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("cutv\n");
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(vdir("cutv"))).toEqual([]);
    r.run(["volume", "rm", "cutv"]);
  });

  it("kill -9 of the CLI and the watcher: ps -a, rm -fv and volume rm still tell the truth and clean up", async () => {
    const p = r.spawn(["run", "--name", "crash1", "-v", "crashv:/d", "-v", "/anon", "busybox", "sleep", "30"]);
    for (let i = 0; i < 100 && !r.run(["ps", "-q", "-f", "name=crash1"]).stdout; i++) await Bun.sleep(50);
    p.kill(9);
    await p.exited;
    expect(r.run(["ps", "--format", "{{.Names}} {{.State}}", "-f", "name=crash1"]).stdout).toBe("crash1 running\n");
    const watcher = Number(JSON.parse(readFileSync(join(r.dir, "containers", idOf("crash1"), "state.json"), "utf8")).state.watcherPid);
    process.kill(watcher, 9);
    const anon = mountsOf("crash1").find((m) => m.Destination === "/anon")!.Name as string;
    expect(r.run(["volume", "rm", "crashv"]).code).toBe(1);
    expect(r.run(["rm", "-fv", "crash1"]).code).toBe(0);
    expect(existsSync(vdir(anon))).toBe(false);
    expect(r.run(["volume", "rm", "crashv"]).code).toBe(0);
    expect(r.run(["volume", "ls", "-q"]).stdout).toBe("");
  });
});
