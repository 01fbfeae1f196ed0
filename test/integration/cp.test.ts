// `minid cp` both ways, stopped and running, as a tar stream, with Docker's path rules, and
// against an image whose symlinks point at host paths: nothing is ever read from or written to
// the host through them.
import { describe, expect } from "bun:test";
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requires } from "../helpers/requires.ts";
import { useRunRoot } from "../helpers/run-root.ts";

const it = requires("root");
const { r } = useRunRoot("cp");

const hostDir = join(r.dir, "hostside"); // a real host directory the image's symlinks name
const out = (n: string) => join(r.dir, "out", n);
let imported = false;

/** busybox plus /abs -> <hostDir> (absolute), /climb -> ../../../../../.. and, inside the image, its own <hostDir>. */
function evilImage(): void {
  if (imported) return;
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, "host-only"), "HOST");
  mkdirSync(join(r.dir, "out"), { recursive: true });
  const tree = join(r.dir, "evil-tree");
  mkdirSync(tree);
  expect(Bun.spawnSync(["tar", "-xzf", join(import.meta.dir, "..", "..", "images", "build", "busybox.tar.gz"), "-C", tree]).exitCode).toBe(0);
  mkdirSync(join(tree, hostDir), { recursive: true });
  writeFileSync(join(tree, hostDir, "image-only"), "IMAGE");
  symlinkSync(hostDir, join(tree, "abs"));
  symlinkSync("../../../../../..", join(tree, "climb"));
  mkdirSync(join(tree, "t"));
  symlinkSync(hostDir, join(tree, "t", "d")); // where cp will want to make a directory
  mkdirSync(join(tree, "data", "sub"), { recursive: true });
  writeFileSync(join(tree, "data", "sub", "f"), "data-f");
  chownSync(join(tree, "data", "sub", "f"), 1001, 1002);
  const tarFile = `${tree}.tar`;
  expect(Bun.spawnSync(["tar", "--numeric-owner", "-cf", tarFile, "-C", tree, "."]).exitCode).toBe(0);
  expect(r.run(["import", "-c", 'CMD ["sh"]', tarFile, "cpevil:1"]).code).toBe(0);
  rmSync(tree, { recursive: true, force: true });
  rmSync(tarFile);
  imported = true;
}

const hostUntouched = () => expect(readdirSync(hostDir).sort()).toEqual(["host-only"]);

describe("cp killed -9", () => {
  it("half-way into a stopped container: no mount anywhere, the container starts, rm -f cleans up", async () => {
    evilImage();
    expect(r.run(["create", "--name", "cpkill", "busybox", "sh", "-c", "ls /big >/dev/null 2>&1; echo ran"]).code).toBe(0);
    const big = join(r.dir, "big");
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${big}`, "bs=1M", "count=300"], { stderr: "ignore" });
    const id = r.run(["inspect", "--format", "{{.Id}}", "cpkill"]).stdout.trim();
    const partial = join(r.dir, "containers", id, "upper", "big");
    const p = r.spawn(["cp", big, "cpkill:/big"]);
    // Killed half-way: once part of the file is in the container's writable layer.
    for (let i = 0; i < 400 && p.exitCode === null; i++) {
      try {
        if (statSync(partial).size > 0) break;
      } catch {}
      await Bun.sleep(10);
    }
    expect(p.exitCode).toBe(null);
    p.kill(9);
    await p.exited;
    expect(r.leakedMounts()).toEqual([]);
    expect(r.run(["ps", "-a", "--format", "{{.State}}", "-f", "name=cpkill"]).stdout).toBe("created\n");
    expect(r.run(["start", "-a", "cpkill"]).stdout).toBe("ran\n");
    expect(r.run(["cp", join(r.dir, "hostside", "host-only"), "cpkill:/after"]).code).toBe(0); // the lock was released with the process
    expect(r.run(["rm", "-f", "cpkill"]).code).toBe(0);
    rmSync(big);
    expect(readdirSync(join(r.dir, "image", "tmp")).filter((n) => n.startsWith("cp-"))).toEqual([]);
  });
});

for (const mode of ["stopped", "running"] as const) {
  describe(`cp (${mode} container)`, () => {
    const name = `cp-${mode}`;
    const setup = () => {
      evilImage();
      if (r.run(["inspect", name]).code === 0) return;
      const args = mode === "running" ? ["run", "-d"] : ["create"];
      expect(r.run([...args, "--name", name, "-v", `cpvol-${mode}:/vol`, "cpevil:1", "sleep", "300"]).code).toBe(0);
    };
    const inside = (cmd: string) => r.run(["exec", name, "sh", "-c", cmd]).stdout;

    it("host → container through the image's symlinks lands inside the container, never on the host", () => {
      setup();
      const f = join(r.dir, `in-${mode}`);
      writeFileSync(f, "payload");
      expect(r.run(["cp", f, `${name}:/abs/`]).code).toBe(0);
      expect(r.run(["cp", f, `${name}:/climb${hostDir}/p2`]).code).toBe(0);
      hostUntouched();
      if (mode === "running") expect(inside(`cat ${hostDir}/in-${mode} ${hostDir}/p2`)).toBe("payloadpayload");
      // (stopped: read back through the container's own tree)
      expect(r.run(["cp", `${name}:${hostDir}/p2`, out(`p2-${mode}`)]).code).toBe(0);
      expect(readFileSync(out(`p2-${mode}`), "utf8")).toBe("payload");
      // a directory of the destination swapped for a symlink to a host path is replaced, not written through
      const src = join(r.dir, `tree-${mode}`);
      mkdirSync(join(src, "d"), { recursive: true });
      writeFileSync(join(src, "d", "f"), "tree-f");
      expect(r.run(["cp", src + "/.", `${name}:/t`]).code).toBe(0);
      hostUntouched();
      if (mode === "running") expect(inside("test -L /t/d || cat /t/d/f")).toBe("tree-f");
      expect(r.run(["cp", `${name}:/t/d/f`, out(`tf-${mode}`)]).code).toBe(0);
      expect(readFileSync(out(`tf-${mode}`), "utf8")).toBe("tree-f");
    });

    it("container → host reads the container's files through its symlinks; a symlink is copied as a symlink; -L follows it", () => {
      setup();
      expect(r.run(["cp", `${name}:/abs/.`, out(`abs-${mode}`)]).code).toBe(0);
      expect(readdirSync(out(`abs-${mode}`))).toContain("image-only");
      expect(readdirSync(out(`abs-${mode}`))).not.toContain("host-only");
      expect(r.run(["cp", `${name}:/climb/etc/passwd`, out(`passwd-${mode}`)]).code).toBe(0);
      expect(readFileSync(out(`passwd-${mode}`), "utf8")).not.toBe(readFileSync("/etc/passwd", "utf8"));
      expect(readFileSync(out(`passwd-${mode}`), "utf8")).toContain("root:x:0:0");
      expect(r.run(["cp", `${name}:/abs`, out(`link-${mode}`)]).code).toBe(0);
      expect(lstatSync(out(`link-${mode}`)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(out(`link-${mode}`))).toBe(hostDir);
      expect(r.run(["cp", "-L", `${name}:/abs`, out(`follow-${mode}`)]).code).toBe(0);
      expect(readdirSync(out(`follow-${mode}`))).toContain("image-only");
      expect(readdirSync(out(`follow-${mode}`))).not.toContain("host-only");
      hostUntouched();
    });

    it("Docker's rules: owners (-a), trailing / and /., directories, volumes, tar streams, errors", () => {
      setup();
      // a directory into a missing path is created; into an existing one it goes under its name; /. copies the content
      expect(r.run(["cp", `${name}:/data`, out(`data-${mode}`)]).code).toBe(0);
      expect(readFileSync(out(`data-${mode}/sub/f`), "utf8")).toBe("data-f");
      expect(statSync(out(`data-${mode}/sub/f`)).uid).toBe(0);
      expect(r.run(["cp", "-a", `${name}:/data`, out(`data-${mode}`)]).code).toBe(0);
      expect(statSync(out(`data-${mode}/data/sub/f`)).uid).toBe(1001);
      expect(statSync(out(`data-${mode}/data/sub/f`)).gid).toBe(1002);
      // the container's volumes are part of its tree
      writeFileSync(join(r.dir, "volumes", `cpvol-${mode}`, "_data", "vf"), "in-volume");
      expect(r.run(["cp", `${name}:/vol/vf`, out(`vf-${mode}`)]).code).toBe(0);
      expect(readFileSync(out(`vf-${mode}`), "utf8")).toBe("in-volume");
      expect(r.run(["cp", out(`vf-${mode}`), `${name}:/vol/back`]).code).toBe(0);
      expect(readFileSync(join(r.dir, "volumes", `cpvol-${mode}`, "_data", "back"), "utf8")).toBe("in-volume");
      // tar streams: the entry under its own name, or a directory's content as ./
      const tarList = (src: string) => {
        const p = Bun.spawnSync(["sh", "-c", `'${process.env.MINID_BIN ?? join(import.meta.dir, "..", "..", "dist", "minid")}' --root '${r.dir}' cp '${src}' - | tar -t`]);
        return p.stdout.toString().trim().split("\n");
      };
      expect(tarList(`${name}:/data/sub/f`)).toEqual(["f"]);
      expect(tarList(`${name}:/data`)).toEqual(["data/", "data/sub/", "data/sub/f"]);
      expect(tarList(`${name}:/data/.`)).toEqual(["./", "./sub/", "./sub/f"]);
      const tarIn = join(r.dir, `in-${mode}.tar`);
      mkdirSync(join(r.dir, `tin-${mode}`));
      writeFileSync(join(r.dir, `tin-${mode}`, "from-tar"), "T");
      Bun.spawnSync(["tar", "-cf", tarIn, "-C", join(r.dir, `tin-${mode}`), "from-tar"]);
      expect(r.run(["cp", "-", `${name}:/vol`], { input: readFileSync(tarIn) }).code).toBe(0);
      expect(readFileSync(join(r.dir, "volumes", `cpvol-${mode}`, "_data", "from-tar"), "utf8")).toBe("T");
      const notDir = r.run(["cp", "-", `${name}:/data/sub/f`], { input: readFileSync(tarIn) });
      expect([notDir.code, notDir.stderr]).toEqual([1, `minid: destination "${name}:/data/sub/f" must be a directory\n`]);
      for (const [args, msg] of [
        [[`${name}:/nosuch`, out("x")], `minid: No such container:path: ${name}:/nosuch\n`],
        [["nosuchctr:/x", out("x")], "minid: No such container:path: nosuchctr:/x\n"],
        [[out("x"), out("y")], "minid: must specify at least one container source\n"],
        [[`${name}:/a`, `${name}:/b`], "minid: copying between containers is not supported\n"],
        [[tarIn, `${name}:/nodir/`], "minid: no such directory\n"],
        [[tarIn, `${name}:/nodir/x`], `minid: No such container:path: ${name}:/nodir\n`],
        [[`${name}:/data`, tarIn], "minid: cannot copy directory\n"],
        [[`${name}:/data/sub/f`, join(r.dir, "nodir", "x")], `minid: invalid output path: directory "${join(r.dir, "nodir")}" does not exist\n`],
      ] as const) {
        const res = r.run(["cp", ...args]);
        expect([res.code, res.stderr]).toEqual([1, msg]);
      }
      expect(existsSync(join(r.dir, "nodir"))).toBe(false);
    });
  });
}
